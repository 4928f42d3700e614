"""The catalogue of stored events, and the check every stored event passes as it is read.

A store is untrusted input. The event library would resolve whatever topic a stored row
names (importing its module) and set whatever fields its JSON holds; here a stored event
is only ever turned into one of the ledger's own event classes, listed below by their
explicit topics, and only when its fields are exactly that class's, each of its type.
What each field holds is said once, in ``ledger/fields.py`` (the import's line check reads
the same table); here it becomes each class's :class:`Plan`, the cheap check
:func:`fault` runs on every stored event's state. Anything else is
:class:`~ledger.errors.Corrupt` (exit 4), never a traceback; so is an event that is not
its aggregate's next version or does not apply (:func:`advance`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import attrs
from eventsourcing.domain import Aggregate

from ledger.region_year import RegionYear
from ledger.decision import Decision
from ledger.voucher import Voucher
from ledger.errors import Corrupt
from ledger.fields import BIG, fields_of
from ledger.grant import Grant

AGGREGATES: tuple[type[Aggregate], ...] = (Grant, RegionYear, Decision, Voucher)


def _event_classes() -> dict[str, type]:
    found = {}
    for aggregate in AGGREGATES:
        for name in dir(aggregate):
            cls = getattr(aggregate, name)
            if (isinstance(cls, type) and issubclass(cls, Aggregate.Event) and cls is not aggregate.Created
                    and "/v" in getattr(cls, "TOPIC", "")):
                found[cls.TOPIC] = cls
    return found


# topic -> event class: the only classes a stored event can become
CATALOGUE: dict[str, type] = _event_classes()
# event class -> its name in history, export, audit and the docs' event catalogue. A /v2
# of an event is the same fact with more fields, so it keeps its name. Everything that
# treats events by kind (history's summaries, verify's re-checks, the read models, the
# audit's reach) dispatches on these classes.
KINDS: dict[type, str] = {
    Grant.Defined: "grant-defined",
    Grant.AgreementSigned: "agreement-signed",
    Grant.AgreementSignedWithTerms: "agreement-signed",
    Grant.AgreementAmended: "agreement-amended",
    Grant.DeciderAuthorised: "decider-authorised",
    Grant.DeciderDeauthorised: "decider-deauthorised",
    Grant.PotAllocated: "pot-allocated",
    Grant.RegionObjectSet: "region-object-set",
    RegionYear.Opened: "region-year-opened",
    RegionYear.Allocated: "allocated",
    RegionYear.PlanningFrameSet: "planning-frame-set",
    RegionYear.PlanningFrameSetWithRef: "planning-frame-set",
    RegionYear.Requisitioned: "requisitioned",
    RegionYear.RequisitionedWithRef: "requisitioned",
    RegionYear.CommitmentSet: "commitment-set",
    RegionYear.Reserved: "reserved",
    RegionYear.ReservedWithRef: "reserved",
    RegionYear.Repaid: "repaid",
    RegionYear.RepaidWithRef: "repaid",
    RegionYear.Paid: "paid",
    RegionYear.Reclaimed: "reclaimed",
    RegionYear.ReclaimRateSet: "reclaim-rate-set",
    RegionYear.ReclaimRepaid: "reclaim-repaid",
    RegionYear.ReclaimWaived: "reclaim-waived",
    RegionYear.ReportFiled: "report-filed",
    RegionYear.ReportFiledWithContent: "report-filed",
    RegionYear.YearClosed: "year-closed",
    RegionYear.YearReopened: "year-reopened",
    Decision.Decided: "decided",
    Decision.Amended: "amended",
    Decision.Revoked: "revoked",
    Decision.Spent: "spent",
    Decision.Credited: "credited",
    Decision.Reversed: "reversed",
    Voucher.Registered: "voucher-registered",
}
assert set(KINDS) == set(CATALOGUE.values()), "every stored event class needs its kind"
# topic -> kind, for what reads topics (an export file, the read models' feed)
TOPIC_KINDS: dict[str, str] = {cls.TOPIC: kind for cls, kind in KINDS.items()}


def kind_of(event: Any) -> str:
    """An event's name (``spent``, ``decided``...): the same for each version of a fact."""
    return KINDS.get(type(event), type(event).__name__)


# creation events name their aggregate's topic; it must be this one
CREATES: dict[type, str] = {
    cls: aggregate.TOPIC for aggregate in AGGREGATES for cls in CATALOGUE.values()
    if issubclass(cls, Aggregate.Created) and cls.__qualname__.startswith(aggregate.__name__ + ".")
}

# ------------------------------------------------------------------ field types


@attrs.frozen
class Plan:
    """How one event class's stored fields are checked (built once from ledger/fields.py, read
    for every event)."""

    names: frozenset[str]
    plain: tuple[tuple[str, type], ...]
    optional: tuple[tuple[str, type], ...]
    ints: tuple[str, ...]
    shaped: tuple[tuple[str, Callable[[Any], bool]], ...]
    creates: str | None


def _plan(cls: type) -> Plan:
    plain, optional, ints, shaped = [], [], [], []
    for field in fields_of(cls):
        if field.shape is not None:
            shaped.append((field.name, field.shape))
            continue
        (optional if field.nullable else plain).append((field.name, field.type))
        if field.type is int:
            ints.append(field.name)
    names = {"timestamp", *(f.name for f in fields_of(cls))} | ({"originator_topic"} if cls in CREATES else set())
    return Plan(frozenset(names), tuple(plain), tuple(optional), tuple(ints), tuple(shaped), CREATES.get(cls))


PLANS: dict[type, Plan] = {cls: _plan(cls) for cls in CATALOGUE.values()}


def fault(cls: type, state: dict[str, Any]) -> str | None:
    """What is wrong with a stored event's fields for its class (None: nothing)."""
    plan = PLANS[cls]
    if state.keys() != plan.names:
        missing = sorted(plan.names - state.keys())
        extra = sorted(state.keys() - plan.names)
        return ("missing " + ", ".join(missing) if missing else "") + \
               ("; " if missing and extra else "") + ("unexpected " + ", ".join(extra[:3]) if extra else "")
    for name, kind in plan.plain:
        if type(state[name]) is not kind:
            return f"{name} is not of its type"
    for name, kind in plan.optional:
        if state[name] is not None and type(state[name]) is not kind:
            return f"{name} is not of its type"
    for name in plan.ints:
        if not -BIG < state[name] < BIG:
            return f"{name} is out of range"
    for name, check in plan.shaped:
        if not check(state[name]):
            return f"{name} is not of its shape"
    stamp = state["timestamp"]
    if type(stamp) is not datetime.datetime or stamp.tzinfo is None:
        return "timestamp is not a time with an offset"
    if plan.creates is not None and state["originator_topic"] != plan.creates:
        return "originator_topic is not its aggregate's"
    return None


def advance(aggregate: Any, event: Any, position: int) -> Any:
    """Apply a stored event to its aggregate as it stood before it (None before its creation).

    The event must be the aggregate's next version (its creation, for version 1) and must
    apply; otherwise the stored history was altered, which is :class:`Corrupt` naming the
    position, never the library's own error or a traceback.
    """
    expected = 1 if aggregate is None else aggregate.version + 1
    creation = type(event) in CREATES
    if event.originator_version != expected or creation != (aggregate is None):
        raise Corrupt(f"the stored event at position {position} is version {event.originator_version} "
                      f"of its aggregate, which expects version {expected}: an event was removed, "
                      "reordered or moved; the stored history was altered (see grants verify)")
    unsound = _unsound(aggregate, event)
    if unsound:
        raise Corrupt(f"the stored event at position {position} {unsound}; the stored history was altered "
                      "(see grants verify)")
    try:
        return event.mutate(aggregate)
    except Exception as e:
        raise Corrupt(f"the stored event at position {position} does not apply to its aggregate "
                      f"({type(e).__name__}); the stored history was altered (see grants verify)") from None


def _unsound(aggregate: Any, event: Any) -> str | None:
    """What no history the ledger records can hold, cheap to see as an event is replayed."""
    if isinstance(event, (Decision.Spent, Decision.Credited)) and aggregate.has_voucher(event.voucher):
        return f"books voucher {event.voucher} a second time"
    if isinstance(event, Decision.Reversed):
        booking = aggregate.booking_or_none(event.voucher)
        if booking is None or booking.is_reversed:
            return f"reverses voucher {event.voucher}, which is not a live booking"
    return None
