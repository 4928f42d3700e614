"""Audit: replay history as of a moment, identify it by a digest, reconcile a year.

``upto`` cuts the log at a position or a moment of recording, in whole commands, so
every query can answer "what did the ledger say then". ``Digest`` chains a SHA-256 over every replayed event
(its recording time, recorder, topic, aggregate, version and fields, in order): the
same history always gives the same digest, and any change to any event, any missing,
added or reordered event, gives another. ``audit`` assembles the controller's view of
one year from the same fold as every other query.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from typing import Any

from ledger.region_year import RegionYear
from ledger.decision import Decision
from ledger.grant import Grant
from ledger.values import Amount, Region, total
from projections.debts import year_end_rows
from projections.balances import FIGURES, balance_rows, year_figures
from projections.bounds import Cut, whole_commands
from projections.commitments import commitment_rows
from projections.compliance import compliance_rows
from projections.fold import Entry, LedgerView
from projections.history import history_row
from projections.digest import Digest, raw_record  # noqa: F401 (Digest re-exported: the digest is its own module)


def upto(entries: Iterable[Entry], position: int | None = None,
         as_of: datetime.datetime | None = None, cut: Cut | None = None) -> Iterator[Entry]:
    """The prefix of the log recorded by ``as_of`` and within the first ``position`` positions,
    in whole commands: a limit inside one command's atomic write answers as of that
    command's start (see :mod:`projections.bounds`; ``cut`` says what was done).

    ``entries`` should run past the limit (to see whether the next event belongs to the
    command before it): read the log without a stop, it is only read as far as needed.
    """
    if position is None and as_of is None:
        yield from entries
        return
    yield from whole_commands(entries, entry_bounds, position, as_of, cut)


def entry_bounds(entry: Entry) -> tuple[int, str, Any, datetime.datetime]:
    """What :func:`projections.bounds.whole_commands` needs of an entry."""
    return entry.position, type(entry.event).TOPIC, entry.event.originator_id, entry.recorded_at


def _encoder():
    from ledger.application import GrantLedger

    return GrantLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper


_MAPPER = None


def stored_state(event: Any) -> bytes:
    """The bytes the ledger stores for an event (what a store holds, whichever store)."""
    global _MAPPER
    if _MAPPER is None:
        _MAPPER = _encoder()
    return _MAPPER.to_stored_event(event).state


def canonical(entry: Entry) -> bytes:
    """The bytes of an event that the digest covers (everything but its position number)."""
    event = entry.event
    state = entry.state if entry.state is not None else stored_state(event)
    return raw_record(type(event).TOPIC, event.originator_id.bytes, event.originator_version, state)


def digested(entries: Iterable[Entry], digest: Digest) -> Iterator[Entry]:
    """Pass entries through, adding each to the digest."""
    for entry in entries:
        digest.add(entry)
        yield entry


def digest_of(entries: Iterable[Entry]) -> str:
    d = Digest()
    for entry in entries:
        d.add(entry)
    return d.value


# --------------------------------------------------------------------------- what touches a year


def reach(event: Any, aggregate: Any) -> tuple[str | None, tuple[int, ...] | None]:
    """The region and years whose audit lists an event (region None: every region; years
    None: every year of the grant).

    ``aggregate`` is the event's aggregate as it stood after the event, or at any later
    moment: only what an aggregate never changes afterwards is read (its region and year,
    a decision's first schedule, a booking's year, a revoked decision's years), so the
    persisted history and the fold of any prefix say the same.
    """
    if isinstance(aggregate, RegionYear):
        return aggregate.region, (aggregate.year,)
    if isinstance(aggregate, Decision):
        if isinstance(event, (Decision.Spent, Decision.Credited)):
            return aggregate.region, (event.year,)
        if isinstance(event, Decision.Reversed):
            return aggregate.region, (aggregate.bookings[event.voucher].year,)
        if isinstance(event, (Decision.Decided, Decision.Amended)):
            years = {int(y) for y, _ in event.schedule} | set(aggregate.terms.schedule)
            return aggregate.region, tuple(sorted(years))
        return aggregate.region, tuple(sorted(aggregate.years_ever))  # revoked: nothing changes after
    if isinstance(event, Grant.Defined):
        return None, None
    if isinstance(event, (Grant.AgreementSigned, Grant.AgreementSignedWithTerms, Grant.AgreementAmended,
                          Grant.PotAllocated)):
        return None, (event.year,)
    if isinstance(event, (Grant.DeciderAuthorised, Grant.RegionObjectSet)):
        return event.region, None
    return None, ()  # voucher-registered: the index, told by its `spent`


def touches(view: LedgerView, entry: Entry, grant_id: str, year: int, region: str | None) -> bool:
    """Whether an event is part of a year's story (for one region, or all)."""
    aggregate = view.by_id[entry.event.originator_id]
    if getattr(aggregate, "grant_id", None) != grant_id:
        return False
    where, years = reach(entry.event, aggregate)
    return (years is None or year in years) and (region is None or where in (None, region))


def year_events(view: LedgerView, grant_id: str, year: int, region: str | None) -> list[dict[str, Any]]:
    """The events a year's audit lists, from a view folded with its entries."""
    rows = []
    for e in view.entries or ():
        if touches(view, e, grant_id, year, region):
            aggregate = view.by_id[e.event.originator_id]
            rows.append({**history_row(e, aggregate), "region": reach(e.event, aggregate)[0]})
    return rows


# --------------------------------------------------------------------------- the audit


def opening(view: LedgerView, grant_id: str, year: int, region: str | None) -> list[dict[str, Any]]:
    """Commitments to the year carried in from decisions taken in earlier years."""
    start = datetime.date(year, 1, 1)
    rows = []
    for d in view.grant_decisions(grant_id, region):
        if d.decided_on < start and d.committed_for(year):
            rows.append({"region": d.region, "decision": d.decision_id, "decided_on": d.decided_on,
                         "amount": d.committed_for(year)})
    return sorted(rows, key=lambda r: (r["region"], r["decision"]))


def reconcile(view: LedgerView, grant_id: str, year: int, region: str | None) -> list[dict[str, Any]]:
    """The identities of domain.md and cross-checks between aggregates, each said plainly."""
    checks = []
    grant = view.grants[grant_id]
    for ry in view.years_of(grant_id, region, year):
        decisions = view.grant_decisions(grant_id, ry.region)
        f = year_figures(ry, decisions)
        where = f"{Region(ry.region)} {year}"
        funds = ry.funds

        def check(name: str, holds: bool, detail: str) -> None:
            checks.append({"region": ry.region, "check": name, "holds": holds, "detail": detail})

        check("funds + shortfall = committed + reserved + available",
              funds + f["shortfall"] == f["committed"] + f["reserved"] + f["available"],
              f"{where}: {funds} + {f['shortfall']} vs {f['committed']} + {f['reserved']} + {f['available']}")
        check("every figure >= 0", all(not v.is_negative for v in f.values()),
              f"{where}: " + ", ".join(f"{k} {v}" for k, v in f.items() if v.is_negative) or f"{where}: all ≥ 0")
        check("requisitioned <= allocated", f["requisitioned"] <= f["allocated"],
              f"{where}: {f['requisitioned']} requisitioned of {f['allocated']}")
        check("spent <= committed", f["spent"] <= f["committed"],
              f"{where}: {f['spent']} spent of {f['committed']} committed")
        by_decisions = total(d.committed_for(year) for d in decisions)
        check("the year's commitments = its decisions' amounts", by_decisions == f["committed"],
              f"{where}: {f['committed']} in the year, {by_decisions} in the decisions")
    agreement = grant.agreements.get(year)
    if agreement is not None and region is None:
        for pot, size in agreement.pots.items():
            given = total(ry.pot_allocated(pot) + Amount(ry.repaid_by_pot.get(pot, 0))
                          for ry in view.years_of(grant_id, None, year))
            checks.append({"region": None, "check": f"allocations from pot {pot} <= the pot",
                           "holds": given <= Amount(size), "detail": f"{given} of {Amount(size)}"})
    return checks


def filed_vs_now(view: LedgerView, events: list[dict[str, Any]], grant_id: str, year: int,
                 region: str | None) -> list[dict[str, Any]]:
    """Each sealed report beside the year as it stands now, with the events that changed it."""
    out = []
    # the kinds that never move a filed figure (allocated ... shortfall): not "what changed it"
    quiet = {"report-filed", "year-closed", "year-reopened", "region-year-opened", "grant-defined",
             "decider-authorised", "decider-deauthorised", "region-object-set", "agreement-amended", "paid",
             "reclaim-rate-set"}
    for ry in view.years_of(grant_id, region, year):
        now = year_figures(ry, view.grant_decisions(grant_id, ry.region))
        for report in ry.reports:
            if not report.figures:
                continue
            filed = {k: Amount(v) for k, v in report.figures.items()}
            changed = [k for k in FIGURES if filed.get(k) != now[k]]
            later = [
                {"position": e["position"], "type": e["type"], "recorded_at": e["recorded_at"],
                 "summary": e["summary"]}
                for e in events
                if e["position"] > report.position and e["type"] not in quiet and e["region"] in (ry.region, None)
            ]
            out.append({
                "region": ry.region, "filed_on": report.filed_on, "position": report.position,
                "digest": report.digest, "as_filed": filed, "now": now, "changed": changed,
                "changed_by": later if changed else [],
            })
    return out


def audit(view: LedgerView, digest: str, grant_id: str, year: int, region: str | None,
          as_of: datetime.datetime | None, on: datetime.date,
          last_recorded_at: datetime.datetime | None = None,
          events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The controller's view of one year, as the replayed history says it.

    A grant the replayed history does not hold yet gives an audit with nothing in it
    (``recorded`` false): nothing of it was recorded by then. (Whether the grant
    exists at all is the caller's question.)

    ``events`` are the rows the year lists; without them they are found in the view's
    entries (a view folded with ``keep_entries``).
    """
    recorded = grant_id in view.grants  # else nothing of the grant was recorded by then
    if recorded:
        view.grants[grant_id].check_year(year)
    if events is None:
        events = year_events(view, grant_id, year, region) if recorded else []
    last = (view.entries or [None])[-1]
    checks = reconcile(view, grant_id, year, region) if recorded else []
    return {
        "recorded": recorded,
        "grant": grant_id,
        "year": year,
        "region": region,
        "as_of": as_of,
        "last_recorded_at": last_recorded_at or (last.recorded_at if last else None),
        "position": view.position,
        "digest": digest,
        "events": events,
        "opening": opening(view, grant_id, year, region),
        "balances": balance_rows(view, grant_id, region, year),
        "commitments": commitment_rows(view, grant_id, region, year),
        "compliance": compliance_rows(view, grant_id, on, region, year),
        "year_end": year_end_rows(view, grant_id, region, year),
        "reports": filed_vs_now(view, events, grant_id, year, region),
        "reconciliation": checks,
        "reconciled": all(c["holds"] for c in checks),
    }
