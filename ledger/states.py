"""Aggregate states as the read models keep them: typed JSON, validated when read.

A read model is untrusted input like any store: nothing in it is unpickled, evaluated or
imported. ``dump`` writes an aggregate's state as canonical JSON (sorted keys, so the
same state always gives the same bytes); ``load`` builds the aggregate back only from
the three classes the read models keep, checking every field's type and the invariants
that are cheap to check, and raises :class:`~ledger.errors.Corrupt` for anything else.
The checks of single fields, and reading a decision's spent alone, are
:mod:`ledger.state_fields` (which needs no aggregate class).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from ledger.terms import REVOKED, STATUSES, Agreement, Authorisation, DecisionTerms, ReportContent
from ledger.state_fields import (BIG, _Bad, _day, _int, _iso, _list, _moment, _money, _obj, _opt, _pairs, _region,
                                 _str, _want, _year, decision_spent, read_state)
from ledger.values import Amount

if TYPE_CHECKING:  # each aggregate's class is imported where a state of its kind is first read or
    # written: reading a kept grant needs none of the others (the start-up of `grants list grants`)
    from ledger.decision import Decision
    from ledger.grant import Grant
    from ledger.region_year import RegionYear

__all__ = ["KINDS", "decision_spent", "dump", "load"]

# --------------------------------------------------------------------------- terms

def _schedule_pairs(schedule: dict[int, Amount]) -> list:
    return [[y, a.ore] for y, a in schedule.items()]


def _read_schedule(v: Any, what: str) -> dict[int, Amount]:
    return {y: Amount(a) for y, a in _pairs(v, _year, _money, what).items()}


# A term's type, as its class declares it -> how it is written and read back. The terms'
# classes (ledger/terms.py) are encoded field by field from these: a new term of a type
# listed here needs nothing added to the read models.
_TERM_TYPES: dict[str, tuple[Callable[[Any], Any], Callable[[Any, str], Any]]] = {
    "str": (lambda v: v, _str),
    "int": (lambda v: v, _int),
    "datetime.date": (_iso, _day),
    "datetime.date | None": (_iso, lambda v, what: _opt(v, _day, what)),
    "dict[str, int]": (lambda m: [[k, v] for k, v in m.items()],
                       lambda v, what: _pairs(v, _str, lambda x, w: _int(x, w, 1), what)),
    "dict[str, str]": (lambda m: [[k, v] for k, v in m.items()], lambda v, what: _pairs(v, _str, _str, what)),
    "dict[int, Amount]": (_schedule_pairs, _read_schedule),
    "tuple[str, ...]": (list, lambda v, what: tuple(_str(x, what) for x in _list(v, what))),
}
_TERM_NAMES: dict[str, Callable[[Any, str], Any]] = {"year": _year}  # stricter than the type says


def _terms(value: Any) -> dict:
    return {f.name: _TERM_TYPES[f.type][0](getattr(value, f.name)) for f in attrs.fields(type(value))}


def _load_terms(cls: type, data: Any, what: str) -> Any:
    fields = attrs.fields(cls)
    _obj(data, {f.name for f in fields}, what)
    return cls(**{f.name: _TERM_NAMES.get(f.name, _TERM_TYPES[f.type][1])(data[f.name], f.name)
                  for f in fields})


# --------------------------------------------------------------------------- writing

_BASE = {"id", "version", "created_on", "modified_on"}


def _base(a: Any) -> dict:
    return {"id": a.id.hex, "version": a.version, "created_on": a.created_on.isoformat(),
            "modified_on": a.modified_on.isoformat()}


def _grant(g: Grant) -> dict:
    return {
        **_base(g), "grant_id": g.grant_id, "name": g.name, "first_year": g.first_year,
        "last_year": g.last_year, "purposes": [[c, t] for c, t in g.purposes.items()],
        "category": g.category, "accounting_object": g.accounting_object,
        "agreements": [_terms(a) for a in g.agreements.values()],
        "authorisations": [[a.region, a.person, a.role, _iso(a.valid_from), _iso(a.valid_until),
                            _iso(a.recorded_on), _iso(a.ended_from)] for a in g.authorisations],
        "pot_allocated": [[y, p, v] for (y, p), v in g.pot_allocated.items()],
        "region_objects": [[r, o] for r, o in g.region_objects.items()],
    }


_MAPS = ("allocations", "allocation_sources", "requisitions", "payments", "repaid_by_pot", "commitments",
         "reservations")


def _region_year(r: RegionYear) -> dict:
    return {
        **_base(r), "grant_id": r.grant_id, "region": r.region, "year": r.year,
        # maps as [key, value] pairs: their order (the order things happened) shows in findings
        **{name: [[k, v] for k, v in getattr(r, name).items()] for name in _MAPS}, "frame": r.frame,
        "closed": r.closed,
        "refs": [[ref, u.kind, u.what, u.amount, _iso(u.on)] for ref, u in r.refs.items()],
        "reports": [[_iso(p.filed_on), p.to, list(p.covers), p.patient_units, p.employee_reps, p.ref,
                     [[k, v] for k, v in p.figures.items()], p.position, p.digest, _terms(p.content)]
                    for p in r.reports],
        "debts": [[d.ref, d.ground, _iso(d.decided_on), d.amount, _iso(d.due),
                   [[_iso(day), rate] for day, rate in d.rates],
                   [[s.kind, _iso(s.on), s.principal, s.interest, s.ref, s.reason] for s in d.settlements]]
                  for d in r.debts.values()],
    }


def _decision(d: Decision) -> dict:
    from ledger.bookings import _pack

    packed = d._packed if d._bookings is None else [_pack(b) for b in d._bookings.values()]
    return {
        **_base(d), "grant_id": d.grant_id, "decision_id": d.decision_id, "region": d.region,
        "terms": _terms(d.terms), "schedule": [[y, a] for y, a in d.schedule.items()],
        "years_ever": sorted(d.years_ever), "changed_on": _iso(d.changed_on),
        "last_amendment": None if d.last_amendment is None else [
            d.last_amendment[0], d.last_amendment[1], _iso(d.last_amendment[2]), d.last_amendment[3]],
        "revocation": None if d.revocation is None else [
            d.revocation[0], _iso(d.revocation[1]), d.revocation[2]],
        "status": d.status, "bookings": [list(t) for t in packed],
        "spent_by_year": [[y, a] for y, a in d.spent_by_year.items()],
    }


# by each aggregate class's own topic
_WRITERS: dict[str, Callable[[Any], dict]] = {
    "grants:Grant": _grant, "grants:RegionYear": _region_year, "grants:Decision": _decision,
}
KINDS = ("Grant", "RegionYear", "Decision")  # the kinds of aggregate the read models keep


def dump(aggregate: Any) -> bytes:
    """An aggregate's state as canonical JSON bytes."""
    return json.dumps(_WRITERS[type(aggregate).TOPIC](aggregate), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


# --------------------------------------------------------------------------- reading


def _new(cls: type, data: dict) -> Any:
    a = object.__new__(cls)
    try:
        a._id = uuid.UUID(hex=_str(data["id"], "id"))
    except ValueError:
        raise _Bad("id is not an aggregate id") from None
    a._version = _int(data["version"], "version", 1)
    a._created_on = _moment(data["created_on"], "created_on")
    a._modified_on = _moment(data["modified_on"], "modified_on")
    a._pending_events = []
    return a


def _load_grant(data: dict) -> Grant:
    keys = _BASE | {"grant_id", "name", "first_year", "last_year", "purposes", "category",
                    "accounting_object", "agreements", "authorisations", "pot_allocated",
                    "region_objects"}
    _obj(data, keys, "the grant")
    from ledger.grant import Grant

    g = _new(Grant, data)
    g.grant_id, g.name = _str(data["grant_id"], "grant_id"), _str(data["name"], "name")
    g.first_year, g.last_year = _year(data["first_year"], "first_year"), _year(data["last_year"], "last_year")
    g.purposes = _pairs(data["purposes"], _str, _str, "purposes")
    g.category, g.accounting_object = _str(data["category"], "category"), _str(data["accounting_object"], "object")
    g.agreements = {}
    for a in _list(data["agreements"], "agreements"):
        agreement = _load_terms(Agreement, a, "an agreement")
        _want(agreement.year not in g.agreements, "an agreement repeats its year")
        g.agreements[agreement.year] = agreement
    g.authorisations = []
    for a in _list(data["authorisations"], "authorisations"):
        _want(type(a) is list and len(a) == 7, "an authorisation does not have its fields")
        g.authorisations.append(Authorisation(_region(a[0], "region"), _str(a[1], "person"), _str(a[2], "role"),
                                              _opt(a[3], _day, "from"), _opt(a[4], _day, "until"),
                                              _opt(a[5], _day, "recorded_on"), _opt(a[6], _day, "ended_from")))
    g.pot_allocated = {}
    for p in _list(data["pot_allocated"], "pot_allocated"):
        _want(type(p) is list and len(p) == 3, "a pot allocation does not have its fields")
        g.pot_allocated[(_year(p[0], "year"), _str(p[1], "pot"))] = _int(p[2], "allocated", 0)
    g.region_objects = _pairs(data["region_objects"], _region, _str, "region_objects")
    return g


def _load_region_year(data: dict) -> RegionYear:
    keys = _BASE | {"grant_id", "region", "year", "allocations", "allocation_sources", "frame", "requisitions",
                    "payments", "repaid_by_pot", "commitments", "reservations", "closed", "reports", "refs",
                    "debts"}
    _obj(data, keys, "the region-year")
    from ledger.region_year import RefUse, RegionYear, Report

    r = _new(RegionYear, data)
    r.grant_id, r.region, r.year = _str(data["grant_id"], "grant_id"), _region(data["region"], "region"), \
        _year(data["year"], "year")
    for name in _MAPS:
        setattr(r, name, _pairs(data[name], _str, _str if name == "allocation_sources" else _money, name))
    r.frame = _opt(data["frame"], _money, "frame")
    _want(type(data["closed"]) is bool, "closed is not true or false")
    r.closed = data["closed"]
    r.refs = {}
    for u in _list(data["refs"], "refs"):
        _want(type(u) is list and len(u) == 5 and u[1] in RefUse.NOUNS, "a ref does not have its fields")
        ref = _str(u[0], "ref")
        _want(ref != "" and ref not in r.refs, "a ref is empty or repeats")
        r.refs[ref] = RefUse(u[1], _str(u[2], "ref's pot or purpose"), _money(u[3], "ref's amount"),
                             _opt(u[4], _day, "ref's date"))
    r.reports = []
    for p in _list(data["reports"], "reports"):
        _want(type(p) is list and len(p) == 10, "a report does not have its fields")
        flag = lambda v, w: (_want(type(v) is bool, f"{w} is not true or false"), v)[1]  # noqa: E731
        content = _load_terms(ReportContent, p[9], "a report's content")
        _want(_terms(content) == p[9], "a report's content is not as the ledger keeps it (trimmed, stated)")
        r.reports.append(Report(
            _day(p[0], "filed_on"), _str(p[1], "to"), tuple(_str(c, "covers") for c in _list(p[2], "covers")),
            _opt(p[3], flag, "patient_units"), _opt(p[4], flag, "employee_reps"), _str(p[5], "ref"),
            _pairs(p[6], _str, _int, "figures"), _int(p[7], "position", 0), _str(p[8], "digest"), content))
    r.debts = {}
    for d in _list(data["debts"], "debts"):
        debt = _debt(d)
        _want(debt.ref not in r.debts and r.refs.get(debt.ref, RefUse("", "", 0, None)).kind == "reclaim",
              "a reclaim repeats or lacks its ref")
        r.debts[debt.ref] = debt
    return r


def _debt(d: Any) -> Any:
    from ledger.debts import GROUNDS, Debt, Settlement, parse_rate

    _want(type(d) is list and len(d) == 7 and d[1] in GROUNDS, "a reclaim does not have its fields")
    rates = []
    for p in _list(d[5], "rates"):
        _want(type(p) is list and len(p) == 2, "a reclaim's rate does not have its fields")
        rates.append((_day(p[0], "rate's day"), _str(p[1], "rate")))
        _want(parse_rate(rates[-1][1]) == rates[-1][1], "a reclaim's rate is not a rate")
    settlements = []
    for s in _list(d[6], "settlements"):
        _want(type(s) is list and len(s) == 6 and s[0] in ("repaid", "waived"),
              "a reclaim's settlement does not have its fields")
        settlements.append(Settlement(s[0], _day(s[1], "settled on"), _money(s[2], "principal"),
                                      _money(s[3], "interest"), _str(s[4], "ref"), _str(s[5], "reason")))
    debt = Debt(_str(d[0], "reclaim"), d[1], _day(d[2], "decided_on"), _money(d[3], "reclaimed"),
                _opt(d[4], _day, "due"), rates, settlements)
    _want(debt.owed >= 0, "a reclaim is settled beyond its amount")
    return debt


def _booking(t: Any) -> tuple:
    """[voucher, year, öre (negative: a credit), booked_on ordinal, object, text, reversed_on
    ordinal or null, reason]."""
    ok = (type(t) is list and len(t) == 8 and type(t[0]) is str and type(t[1]) is int
          and type(t[2]) is int and type(t[3]) is int and type(t[4]) is str and type(t[5]) is str
          and (t[6] is None or (type(t[6]) is int and 0 < t[6] < 3652060)) and type(t[7]) is str
          and 1900 <= t[1] <= 2200 and -BIG < t[2] < BIG and t[2] != 0 and 0 < t[3] < 3652060
          and "\x00" not in t[0] + t[4] + t[5] + t[7])
    _want(ok, "a booking does not have its fields")
    return tuple(t)


def _load_decision(data: dict) -> Decision:
    keys = _BASE | {"grant_id", "decision_id", "region", "terms", "schedule", "years_ever", "changed_on",
                    "last_amendment", "revocation", "status", "bookings", "spent_by_year"}
    _obj(data, keys, "the decision")
    from ledger.decision import Decision

    d = _new(Decision, data)
    d.grant_id, d.decision_id = _str(data["grant_id"], "grant_id"), _str(data["decision_id"], "decision_id")
    d.region = _region(data["region"], "region")
    d.terms = _load_terms(DecisionTerms, data["terms"], "the decision's terms")
    d.changed_on = _day(data["changed_on"], "changed_on")
    d.schedule = _pairs(data["schedule"], _year, _money, "schedule")
    d.years_ever = {_year(y, "years_ever") for y in _list(data["years_ever"], "years_ever")}
    _want(set(d.schedule) <= d.years_ever, "years_ever lacks a year of the schedule")
    last = data["last_amendment"]
    if last is not None:
        _want(type(last) is list and len(last) == 4, "last_amendment does not have its fields")
        pairs = _list(last[0], "last_amendment")
        _pairs(pairs, _year, _money, "last_amendment")
        d.last_amendment = ([list(p) for p in pairs], _str(last[1], "decided_by"), _day(last[2], "on"),
                            _str(last[3], "reason"))
    else:
        d.last_amendment = None
    _want(data["status"] in STATUSES, "status is not live, amended or revoked")
    d.status = data["status"]
    revocation = data["revocation"]
    if revocation is not None:
        _want(type(revocation) is list and len(revocation) == 3 and d.status == REVOKED,
              "revocation does not have its fields")
        d.revocation = (_str(revocation[0], "decided_by"), _day(revocation[1], "on"),
                        _str(revocation[2], "reason"))
    else:
        d.revocation = None
    packed = [_booking(t) for t in _list(data["bookings"], "bookings")]
    _want(len({t[0] for t in packed}) == len(packed), "a voucher repeats")
    spent: dict[int, int] = {}
    for t in packed:
        if t[6] is None:
            spent[t[1]] = spent.get(t[1], 0) + t[2]
    d.spent_by_year = _pairs(data["spent_by_year"], _year, _money, "spent_by_year")
    _want(all(d.spent_by_year.get(y, 0) == v for y, v in spent.items())
          and all(spent.get(y, 0) == v for y, v in d.spent_by_year.items()),
          "spent_by_year is not the sum of its bookings")
    d._bookings, d._packed, d._vouchers, d._owned = None, packed, None, False
    return d


_READERS: dict[str, Callable[[dict], Any]] = {
    "Grant": _load_grant, "RegionYear": _load_region_year, "Decision": _load_decision,
}


def load(data: bytes, kind: str) -> Any:
    """An aggregate from its kept state; anything not a valid state of ``kind`` is Corrupt."""
    return read_state(data, kind if kind in _READERS else "aggregate", _READERS.get(kind) or _unknown(kind))


def _unknown(kind: Any) -> Callable[[dict], Any]:
    def refuse(state: dict) -> Any:
        raise _Bad(f"{str(kind)[:20]!r} is not a kind the read models keep")
    return refuse
