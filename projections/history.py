"""History and export: every event in recording order, named and summarised in one line."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import Any

from ledger.events import TOPIC_KINDS, kind_of
from ledger.values import Region, plural, pretty_ore
from projections.fold import Entry, LedgerView

# the read models feed on topics: topic -> kind (the catalogue is ledger.events.KINDS)
EVENT_TYPES = TOPIC_KINDS

# Fields that say when a fact took effect (as opposed to when it was recorded).
EFFECTIVE_FIELDS = ("decided_on", "signed_on", "booked_on", "filed_on", "on", "valid_from", "ends_from",
                    "amended_on", "applies_from")


event_type = kind_of  # an event's name: history's "type" column and export's "type" key



def _terms(e: Any) -> str:
    """An agreement's deadlines and conditions, as its (v2 or amendment) event states them."""
    said = [f"requisition by {e.requisition_by}" if getattr(e, "requisition_by", None) else "",
            f"repay unused by {e.repay_unused_by}" if getattr(e, "repay_unused_by", None) else "",
            f"carry-over {e.carry_over}" if getattr(e, "carry_over", "") else "",
            f"report asks {', '.join(e.report_asks)}" if getattr(e, "report_asks", None) else ""]
    return "".join(f"; {t}" for t in said if t)


def _content(e: Any) -> str:
    """What a report's content states (a ReportFiled/v2), briefly: "; measures for it-admin; responsible Anna Berg"."""
    involved = [who for who, how in (("patient-near units", e.patient_units_how),
                                     ("employee representatives", e.employee_reps_how)) if how]
    said = [f"measures for {', '.join(p for p, _ in e.measures)}" if e.measures else "",
            f"how {' and '.join(involved)} were involved" if involved else "",
            "how the work continues" if e.continuation else "",
            f"responsible {e.responsible}" if e.responsible else ""]
    return "".join(f"; {t}" for t in said if t)


def effective_date(event: Any) -> datetime.date | None:
    for name in EFFECTIVE_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, datetime.date):
            return value
    return None


_money = pretty_ore


def _schedule(pairs: list) -> str:
    return ", ".join(f"{y}: {_money(a)}" for y, a in pairs) or "nothing"


def _ref(event: Any) -> str:
    ref = getattr(event, "ref", "")
    return f", ref {ref}" if ref else ""


def summary(event: Any, aggregate: Any, kind: str | None = None) -> str:
    """One line that says what the event recorded, with its figures (by the event's kind, so
    no aggregate's class is needed to say it)."""
    e, a = event, aggregate
    name = TOPIC_KINDS.get(getattr(type(event), "TOPIC", None))
    if name == "spent":  # most of any ledger: first, and without the other cases' work
        return f"decision {a.decision_id}: {_money(e.amount)} booked for {e.year}, voucher {e.voucher}, object {e.object}"
    if name == "credited":
        return f"decision {a.decision_id}: {_money(e.amount)} credited to {e.year}, voucher {e.voucher}, object {e.object}"
    where = f"{Region(a.region)} {a.year}" if hasattr(a, "year") and hasattr(a, "region") else ""
    match name:
        case "grant-defined":
            return f"{e.grant_id}: {e.name}, {e.first_year}-{e.last_year}, purposes {', '.join(c for c, _ in e.purposes)}"
        case "agreement-signed":
            pots = ", ".join(f"{n} {_money(v)}" for n, v in e.pots)
            return f"{e.year} agreement signed {e.signed_on}: {pots}; report due {e.report_due}{_terms(e)}"
        case "agreement-amended":
            return f"{e.year} agreement amended {e.amended_on}: report due {e.report_due}{_terms(e)}"
        case "pot-allocated":
            given = sum(a for _, a in e.shares)
            return f"{e.year} pot {e.pot}: {_money(given)} allocated to {plural(len(e.shares), 'region')}"
        case "decider-authorised":
            return f"{e.person} ({e.role or 'decider'}) may decide for {Region(e.region)}"
        case "region-object-set":
            return f"{Region(e.region)} books the grant on object {e.object}"
        case "decider-deauthorised":
            return f"{e.person} may no longer decide for {Region(e.region)} from {e.ends_from}"
        case "region-year-opened":
            return f"{Region(e.region)} {e.year} opened"
        case "allocated":
            return f"{where}: {_money(e.amount)} allocated from pot {e.pot}"
        case "planning-frame-set":
            return f"{where}: planning frame {_money(e.amount)}{_ref(e)}"
        case "requisitioned":
            return f"{where}: {_money(e.amount)} requisitioned from pot {e.pot}{_ref(e)}"
        case "commitment-set":
            drawn = f" ({_money(e.from_reserve)} from the {e.purpose} reservation)" if e.from_reserve else ""
            return f"{where}: decision {e.decision_id} commits {_money(e.amount)}{drawn}"
        case "reserved":
            return f"{where}: {_money(e.amount)} reserved for {e.purpose}{_ref(e)}"
        case "paid":
            return f"{where}: {_money(e.amount)} paid out from pot {e.pot}{_ref(e)}"
        case "reclaimed":
            terms = (f", due {e.due}" if e.due else "") + (f", interest {e.rate} %" if e.rate else "")
            return f"{where}: {_money(e.amount)} reclaimed ({e.ground}) on {e.decided_on}{terms}{_ref(e)}"
        case "reclaim-rate-set":
            return f"{where}: reclaim {e.reclaim} bears {e.rate} % interest from {e.applies_from}{_ref(e)}"
        case "reclaim-repaid":
            part = f" ({_money(e.principal)} principal, {_money(e.interest)} interest)" if e.interest else ""
            return f"{where}: {_money(e.amount)} repaid against reclaim {e.reclaim} on {e.on}{part}{_ref(e)}"
        case "reclaim-waived":
            what = f"{_money(e.interest)} interest" if e.interest else _money(e.principal)
            return f"{where}: {what} of reclaim {e.reclaim} waived on {e.on}: {e.reason}{_ref(e)}"
        case "repaid":
            return f"{where}: {_money(e.amount)} repaid to pot {e.pot}{_ref(e)}"
        case "report-filed":  # its /v2 states the report's content too
            content = _content(e) if hasattr(e, "measures") else ""
            return f"{where}: report filed {e.filed_on} to {e.to or 'recipient not given'}{content}"
        case "year-closed":
            return f"{where}: closed"
        case "year-reopened":
            return f"{where}: reopened ({e.reason})"
        case "decided":
            return (f"decision {e.decision_id} by {e.decided_by} for {Region(e.region)}: "
                    f"{e.area} / {e.activity} ({e.purpose}); {_schedule(e.schedule)}")
        case "amended":
            return f"decision {a.decision_id} amended by {e.decided_by}: {_schedule(e.schedule)} ({e.reason})"
        case "revoked":
            return f"decision {a.decision_id} revoked by {e.decided_by} ({e.reason})"
        case "reversed":
            return f"decision {a.decision_id}: voucher {e.voucher} reversed ({e.reason})"
        case "voucher-registered":
            return f"voucher {e.voucher} belongs to decision {e.decision_id}"
    return kind or kind_of(event)


def _region_of(aggregate: Any, event: Any) -> str | None:
    return getattr(event, "region", None) or getattr(aggregate, "region", None)


def history_rows(view: LedgerView, grant_id: str, region: str | None = None,
                 decision: str | None = None) -> list[dict[str, Any]]:
    """The grant's events in recording order (needs a view folded with ``keep_entries``)."""
    rows = []
    for entry in view.entries or ():
        event = entry.event
        aggregate = view.by_id[event.originator_id]
        if getattr(aggregate, "grant_id", None) != grant_id:
            continue
        if region is not None:
            owner = aggregate
            if hasattr(aggregate, "decision_id") and not hasattr(aggregate, "region"):
                owner = view.decisions.get((grant_id, aggregate.decision_id))
            if _region_of(owner, event) != region:
                continue
        if decision is not None and decision not in (
            getattr(aggregate, "decision_id", None), getattr(event, "decision_id", None)
        ):
            continue
        rows.append(history_row(entry, aggregate))
    return rows


def history_row(entry: Entry, aggregate: Any) -> dict[str, Any]:
    return {
        "position": entry.position,
        "recorded_at": entry.recorded_at,
        "recorded_by": entry.recorded_by,
        "type": event_type(entry.event),
        "effective": effective_date(entry.event),
        "summary": summary(entry.event, aggregate),
    }


_SCALARS = frozenset({str, int, bool, float, type(None)})


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:  # most fields: as they are
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


_NOT_DATA = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def event_record(entry: Entry, plain: bool = True) -> dict[str, Any]:
    """An event as export writes it: its place, recording, type, aggregate and fields (with
    ``plain``, dates as ISO text; else as they are, for :data:`_LINE_ENCODER`)."""
    skip = _NOT_DATA
    event = entry.event
    fields = vars(event).items()
    return {
        "position": entry.position,
        "recorded_at": entry.recorded_at.isoformat(),
        "recorded_by": entry.recorded_by,
        "type": event_type(event),
        "topic": type(event).TOPIC,
        "originator_id": str(event.originator_id),
        "originator_version": event.originator_version,
        "originator_topic": getattr(event, "originator_topic", None),
        "data": ({k: _plain(v) for k, v in fields if k not in skip} if plain
                 else {k: v for k, v in fields if k not in skip}),
    }


def _iso(value: Any) -> str:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a field of an event")


# json.dumps(event_record(entry), ensure_ascii=False), made once, with the dates written as
# _plain writes them by the encoder itself (the same bytes, without a Python call per field)
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_iso)


def export_line(entry: Entry) -> str:
    """One event as its line of `grants export` (without the newline)."""
    return _LINE_ENCODER.encode(event_record(entry, plain=False))


def export_lines(entries: Iterable[Entry]) -> Iterable[str]:
    """JSON Lines: one event a line, in recording order, with its recorded time and recorder."""
    for entry in entries:
        yield export_line(entry)
