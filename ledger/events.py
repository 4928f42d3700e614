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
import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
from eventsourcing.domain import Aggregate

from ledger.errors import Corrupt
from ledger.fields import BIG, fields_of

# Every stored event's topic -> its name in history, export, audit and the docs' event
# catalogue. A /v2 of an event is the same fact with more fields, so it keeps its name.
# Everything that treats events by kind (history's summaries, verify's re-checks, the read
# models, the audit's reach) dispatches on these. A topic is "grants:<Aggregate>.<Event>/vN":
# its class is defined by that aggregate's module (MODULES), imported on the first of its
# topics asked for, so a command that reads one decision's events never imports the others.
TOPIC_KINDS: dict[str, str] = {
    "grants:Grant.Defined/v1": "grant-defined",
    "grants:Grant.AgreementSigned/v1": "agreement-signed",
    "grants:Grant.AgreementSigned/v2": "agreement-signed",
    "grants:Grant.AgreementAmended/v1": "agreement-amended",
    "grants:Grant.DeciderAuthorised/v1": "decider-authorised",
    "grants:Grant.DeciderDeauthorised/v1": "decider-deauthorised",
    "grants:Grant.PotAllocated/v1": "pot-allocated",
    "grants:Grant.RegionObjectSet/v1": "region-object-set",
    "grants:RegionYear.Opened/v1": "region-year-opened",
    "grants:RegionYear.Allocated/v1": "allocated",
    "grants:RegionYear.PlanningFrameSet/v1": "planning-frame-set",
    "grants:RegionYear.PlanningFrameSet/v2": "planning-frame-set",
    "grants:RegionYear.Requisitioned/v1": "requisitioned",
    "grants:RegionYear.Requisitioned/v2": "requisitioned",
    "grants:RegionYear.CommitmentSet/v1": "commitment-set",
    "grants:RegionYear.Reserved/v1": "reserved",
    "grants:RegionYear.Reserved/v2": "reserved",
    "grants:RegionYear.Repaid/v1": "repaid",
    "grants:RegionYear.Repaid/v2": "repaid",
    "grants:RegionYear.Paid/v1": "paid",
    "grants:RegionYear.Reclaimed/v1": "reclaimed",
    "grants:RegionYear.ReclaimRateSet/v1": "reclaim-rate-set",
    "grants:RegionYear.ReclaimRepaid/v1": "reclaim-repaid",
    "grants:RegionYear.ReclaimWaived/v1": "reclaim-waived",
    "grants:RegionYear.ReportFiled/v1": "report-filed",
    "grants:RegionYear.ReportFiled/v2": "report-filed",
    "grants:RegionYear.YearClosed/v1": "year-closed",
    "grants:RegionYear.YearReopened/v1": "year-reopened",
    "grants:Decision.Decided/v1": "decided",
    "grants:Decision.Amended/v1": "amended",
    "grants:Decision.Revoked/v1": "revoked",
    "grants:Decision.Spent/v1": "spent",
    "grants:Decision.Credited/v1": "credited",
    "grants:Decision.Reversed/v1": "reversed",
    "grants:Voucher.Registered/v1": "voucher-registered",
}
# each aggregate (the word after "grants:") -> the module that defines it and its events
MODULES: dict[str, str] = {"Grant": "ledger.grant", "RegionYear": "ledger.region_year",
                           "Decision": "ledger.decision", "Voucher": "ledger.voucher"}


def _aggregate_of(topic: Any) -> str | None:
    name = str(topic).partition(":")[2].partition(".")[0]
    return name if str(topic).startswith("grants:") and name in MODULES else None


def kind_of(event: Any) -> str:
    """An event's name (``spent``, ``decided``...): the same for each version of a fact."""
    return TOPIC_KINDS.get(getattr(type(event), "TOPIC", None), type(event).__name__)


class Catalogue(Mapping[str, type]):
    """topic -> event class: the only classes a stored event can become.

    Each aggregate's classes are found on the first of its topics asked for (its module
    imported then, never a module a stored topic names), and checked against
    :data:`TOPIC_KINDS`: a class with a versioned topic that has no kind, or a kind whose
    class is missing, is a programming error caught the first time either is used.
    """

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}
        self._loaded: set[str] = set()
        self.creates: dict[type, str] = {}  # creation events -> the topic of the aggregate they create
        self.plans: dict[type, Plan] = {}

    def get(self, topic: Any, default: Any = None) -> Any:  # the hot path: one dict lookup
        cls = self._classes.get(topic)
        if cls is None:
            name = _aggregate_of(topic)
            if name is None or name in self._loaded:
                return default
            self._load(name)
            cls = self._classes.get(topic, default)
        return cls

    def __getitem__(self, topic: str) -> type:
        cls = self.get(topic)
        if cls is None:
            raise KeyError(topic)
        return cls

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter(self._classes)

    def __len__(self) -> int:
        self.load_all()
        return len(self._classes)

    def load_all(self) -> None:
        for name in MODULES:
            if name not in self._loaded:
                self._load(name)

    def of_class(self, cls: type) -> None:
        """Make sure an event class's aggregate is loaded (an event made by an aggregate, not read)."""
        name = _aggregate_of(getattr(cls, "TOPIC", ""))
        if name is not None and name not in self._loaded:
            self._load(name)

    def _load(self, name: str) -> None:
        aggregate = getattr(importlib.import_module(MODULES[name]), name)
        found = {}
        for attribute in dir(aggregate):
            cls = getattr(aggregate, attribute)
            if (isinstance(cls, type) and issubclass(cls, Aggregate.Event) and cls is not aggregate.Created
                    and "/v" in getattr(cls, "TOPIC", "")):
                found[cls.TOPIC] = cls
        mine = {t for t in TOPIC_KINDS if _aggregate_of(t) == name}
        assert set(found) == mine, f"every stored event class of {name} needs its kind: {set(found) ^ mine}"
        for cls in found.values():
            if issubclass(cls, Aggregate.Created):
                self.creates[cls] = aggregate.TOPIC
        for cls in found.values():
            self.plans[cls] = _plan(cls, self.creates.get(cls))
        self._classes.update(found)
        self._loaded.add(name)


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


def _plan(cls: type, creates: str | None) -> Plan:
    plain, optional, ints, shaped = [], [], [], []
    for field in fields_of(cls):
        if field.shape is not None:
            shaped.append((field.name, field.shape))
            continue
        (optional if field.nullable else plain).append((field.name, field.type))
        if field.type is int:
            ints.append(field.name)
    names = {"timestamp", *(f.name for f in fields_of(cls))} | ({"originator_topic"} if creates else set())
    return Plan(frozenset(names), tuple(plain), tuple(optional), tuple(ints), tuple(shaped), creates)


CATALOGUE = Catalogue()
CREATES = CATALOGUE.creates  # filled as each aggregate's classes are loaded
PLANS = CATALOGUE.plans


def fault(cls: type, state: dict[str, Any]) -> str | None:
    """What is wrong with a stored event's fields for its class (None: nothing)."""
    plan = PLANS.get(cls)
    if plan is None:
        CATALOGUE.of_class(cls)
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
    if type(event) not in PLANS:
        CATALOGUE.of_class(type(event))
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
    kind = TOPIC_KINDS.get(getattr(type(event), "TOPIC", None))
    if kind in ("spent", "credited") and aggregate.has_voucher(event.voucher):
        return f"books voucher {event.voucher} a second time"
    if kind == "reversed":
        booking = aggregate.booking_or_none(event.voucher)
        if booking is None or booking.is_reversed:
            return f"reverses voucher {event.voucher}, which is not a live booking"
    return None
