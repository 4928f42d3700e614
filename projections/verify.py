"""Re-check a history event by event: what `import` and `verify` rely on.

Each event is replayed through the guard method of the aggregate that recorded it
(``allocate``, ``set_commitment``, ``spend``...), on the state built from the events
before it, so every rule is checked again by the code that owns it; the event the
guard produces must equal the stored one (its recording time apart). Cross-aggregate
conditions the application checks (the decider's authority, a closed year for a
booking, a commitment matching its decision) are checked too, and at the end every
region-year must reconcile. Versions must run 1, 2, 3... per aggregate, and every
sealed report's digest must be one the history actually passed through.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterable
from typing import Any

from ledger import rules
from ledger.region_year import RegionYear
from ledger.clock import recorded_day
from ledger.decision import Decision
from ledger.voucher import Voucher
from ledger.errors import LedgerError
from ledger.events import CATALOGUE, kind_of
from ledger.grant import Grant
from ledger.values import Amount
from projections.audit import Digest, reconcile
from projections.fold import Entry, LedgerView


class HistoryError(Exception):
    """The history breaks a rule or its own order; the message names the position."""


def _day(event: Any):
    """The day an event was recorded: its date rules are checked against it."""
    return recorded_day(event.timestamp)


def _schedule(pairs: list) -> dict[int, Amount]:
    return {int(y): Amount(a) for y, a in pairs}


def _grant(view: LedgerView, grant_id: str) -> Grant:
    grant = view.grants.get(grant_id)
    if grant is None:
        raise HistoryError(f"grant {grant_id!r} is used before it is defined")
    return grant


# Each re-check runs the owning aggregate's guard method on the state before the event.
# It returns the aggregate that now holds the event (a new one for creation events).

def _grant_defined(view, agg, e):
    return Grant.define(e.grant_id, e.name, e.first_year, e.last_year, e.purposes, e.category,
                        e.accounting_object, e.recorded_by)


def _agreement_signed(view, agg, e):
    agg.sign_agreement(year=e.year, signed_on=e.signed_on, pots=e.pots, earmarks=e.earmarks,
                       report_due=e.report_due, payer=e.payer, report_to=e.report_to,
                       population_date=e.population_date, ref=e.ref, recorded_by=e.recorded_by)
    return agg


def _decider_authorised(view, agg, e):
    agg.authorise(e.region, e.person, e.role, e.valid_from, e.valid_until, e.recorded_by)
    return agg


def _decider_deauthorised(view, agg, e):
    agg.deauthorise(e.region, e.person, e.ends_from, e.recorded_by)
    return agg


def _pot_allocated(view, agg, e):
    agg.allocate(e.year, e.pot, {r: Amount(a) for r, a in e.shares}, e.recorded_by)
    return agg


def _region_year_opened(view, agg, e):
    _grant(view, e.grant_id).check_year(e.year)
    return RegionYear(grant_id=e.grant_id, region=e.region, year=e.year, recorded_by=e.recorded_by)


def _allocated(view, agg, e):
    _grant(view, agg.grant_id).check_pot(agg.year, e.pot)
    agg.allocate(e.pot, Amount(e.amount), e.source, e.recorded_by)
    return agg


# A /v1 money event was recorded before refs were unique (a frame, before a repeat of
# the same frame recorded nothing): it is re-checked by the aggregate's balance rules only.

def _frame_set(view, agg, e):
    if isinstance(e, RegionYear.PlanningFrameSet):
        agg.recheck_frame_v1(Amount(e.amount), e.on, e.recorded_by)
    else:
        agg.set_frame(Amount(e.amount), e.on, e.recorded_by, e.ref)
    return agg


def _requisitioned(view, agg, e):
    if isinstance(e, RegionYear.Requisitioned):
        agg.recheck_requisition_v1(e.pot, Amount(e.amount), e.on, e.ref, e.recorded_by)
    else:
        agg.requisition(e.pot, Amount(e.amount), e.on, e.ref, e.recorded_by)
    return agg


def _commitment_set(view, agg, e):
    decision = view.decisions.get((agg.grant_id, e.decision_id))
    if decision is None or decision.committed_for(agg.year) != Amount(e.amount):
        raise HistoryError(f"the commitment of decision {e.decision_id} for {agg.year} does not "
                           "match the decision")
    agg.set_commitment(e.decision_id, e.purpose, Amount(e.amount), e.on, e.recorded_by)
    return agg


def _reserved(view, agg, e):
    rules.may_reserve(_grant(view, agg.grant_id), agg.year, e.purpose)
    if isinstance(e, RegionYear.Reserved):
        agg.recheck_reserve_v1(e.purpose, Amount(e.amount), e.on, e.recorded_by)
    else:
        agg.reserve(e.purpose, Amount(e.amount), e.on, e.ref, e.recorded_by)
    return agg


def _repaid(view, agg, e):
    if isinstance(e, RegionYear.Repaid):
        agg.recheck_repay_v1(e.pot, Amount(e.amount), e.on, e.ref, e.recorded_by)
    else:
        agg.repay(e.pot, Amount(e.amount), e.on, e.ref, e.recorded_by)
    return agg


def _report_filed(view, agg, e):
    rules.may_report(_grant(view, agg.grant_id), agg.year, e.covers)
    agg.file_report(e.filed_on, e.to, e.covers, e.patient_units, e.employee_reps, e.ref,
                    e.recorded_by, {k: Amount(v) for k, v in e.figures.items()}, e.position,
                    e.digest, today=_day(e))
    return agg


def _year_closed(view, agg, e):
    agg.close(e.on, e.recorded_by)
    return agg


def _year_reopened(view, agg, e):
    agg.reopen(e.on, e.reason, e.recorded_by)
    return agg


def _decided(view, agg, e):
    rules.may_decide(_grant(view, e.grant_id), e.region, e.decided_by, e.decided_on, e.purpose,
                     (int(year) for year, _ in e.schedule))
    return Decision.decide(e.grant_id, e.decision_id, e.region, e.decided_by, e.decided_on, e.area,
                           e.activity, e.purpose, _schedule(e.schedule), e.continuation, e.ref,
                           e.recorded_by, today=_day(e))


def _amended(view, agg, e):
    rules.may_change(_grant(view, agg.grant_id), agg, e.decided_by, e.on, (int(year) for year, _ in e.schedule))
    agg.amend(_schedule(e.schedule), e.decided_by, e.on, e.reason, e.recorded_by, today=_day(e))
    return agg


def _revoked(view, agg, e):
    rules.may_change(_grant(view, agg.grant_id), agg, e.decided_by, e.on)
    agg.revoke(e.decided_by, e.on, e.reason, e.recorded_by, today=_day(e))
    return agg


def _spent(view, agg, e):
    rules.may_book(view.region_years.get((agg.grant_id, agg.region, e.year)), "book costs")
    agg.spend(e.voucher, e.year, Amount(e.amount), e.booked_on, e.object, e.text, e.recorded_by,
              today=_day(e))
    return agg


def _reversed(view, agg, e):
    booking = agg.booking(e.voucher)
    rules.may_book(view.region_years.get((agg.grant_id, agg.region, booking.year)), "reverse a booking")
    agg.reverse(e.voucher, e.on, e.reason, e.recorded_by, today=_day(e))
    return agg


def _voucher_registered(view, agg, e):
    decision = view.decisions.get((e.grant_id, e.decision_id))
    if decision is None or e.voucher not in decision.bookings:
        raise HistoryError(f"voucher {e.voucher} is registered without its booking")
    return Voucher(grant_id=e.grant_id, voucher=e.voucher, decision_id=e.decision_id,
                   recorded_by=e.recorded_by)


# the re-check of each stored event class (a /v1 and its /v2 share one, which tells them apart)
RECHECKS: dict[type, Callable[[LedgerView, Any, Any], Any]] = {
    Grant.Defined: _grant_defined,
    Grant.AgreementSigned: _agreement_signed,
    Grant.DeciderAuthorised: _decider_authorised,
    Grant.DeciderDeauthorised: _decider_deauthorised,
    Grant.PotAllocated: _pot_allocated,
    RegionYear.Opened: _region_year_opened,
    RegionYear.Allocated: _allocated,
    RegionYear.PlanningFrameSet: _frame_set,
    RegionYear.PlanningFrameSetWithRef: _frame_set,
    RegionYear.Requisitioned: _requisitioned,
    RegionYear.RequisitionedWithRef: _requisitioned,
    RegionYear.CommitmentSet: _commitment_set,
    RegionYear.Reserved: _reserved,
    RegionYear.ReservedWithRef: _reserved,
    RegionYear.Repaid: _repaid,
    RegionYear.RepaidWithRef: _repaid,
    RegionYear.ReportFiled: _report_filed,
    RegionYear.YearClosed: _year_closed,
    RegionYear.YearReopened: _year_reopened,
    Decision.Decided: _decided,
    Decision.Amended: _amended,
    Decision.Revoked: _revoked,
    Decision.Spent: _spent,
    Decision.Reversed: _reversed,
    Voucher.Registered: _voucher_registered,
}
assert set(RECHECKS) == set(CATALOGUE.values())
CREATIONS = (Grant.Defined, RegionYear.Opened, Decision.Decided, Voucher.Registered)

_UNCOMPARED = {"timestamp"}


def _fields(event: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(event).items() if k not in _UNCOMPARED}


class DigestLog:
    """The digest chain's value after each event, 32 bytes apiece (a set of their texts would
    take five times the memory at a million events): which values a history passed through."""

    def __init__(self, genesis: str) -> None:
        self.genesis = genesis
        self.positions = array("q")
        self.values = bytearray()

    def add(self, position: int, value: str) -> None:
        self.positions.append(position)
        self.values += bytes.fromhex(value[7:])

    def at(self, position: int) -> str:
        """The chain's value after the events up to ``position``."""
        count = bisect.bisect_right(self.positions, position)
        return "sha256:" + self.values[32 * count - 32:32 * count].hex() if count else self.genesis

    def holds(self, value: str, position: int) -> bool:
        """Whether the chain passed through ``value``; looked for first at ``position`` (where a
        sealed report says it stood), then anywhere."""
        if value == self.genesis:
            return True
        if not value.startswith("sha256:") or len(value) != 71:
            return False
        try:
            raw = bytes.fromhex(value[7:])
        except ValueError:
            return False
        if self.at(position) == value:
            return True
        found = self.values.find(raw)
        while found != -1 and found % 32:
            found = self.values.find(raw, found + 1)
        return found != -1


class _Registered:
    """What the rules need of a voucher index once registered (it never has a second event)."""

    __slots__ = ()
    version = 1
    Event = Voucher.Event


_REGISTERED = _Registered()


class Checker:
    """Replays a history one event at a time, re-checking every rule as it goes.

    ``keep_entries`` keeps every entry in ``view.entries`` and every aggregate whole in
    ``view.by_id`` (for callers that list or query them); import passes False, so memory
    holds only what the rules need: no entry, and a voucher index only as registered.
    """

    def __init__(self, contiguous: bool = False, keep_entries: bool = True) -> None:
        self.contiguous = contiguous  # positions must run 1, 2, 3... (SQLite numbers without gaps)
        self.view = LedgerView()
        self.digest = Digest()
        self.passed_through = DigestLog(self.digest.value)
        self.last_position = 0
        self.view.entries = [] if keep_entries else None

    @property
    def view_entries(self) -> list[Entry]:
        return self.view.entries or []

    def check(self, entry: Entry) -> None:
        try:
            self._check(entry)
        except (HistoryError, LedgerError) as e:
            kind = kind_of(entry.event)
            raise HistoryError(f"position {entry.position} ({kind}): {e}") from None

    def _check(self, entry: Entry) -> None:
        event = entry.event
        if entry.position <= self.last_position:
            raise HistoryError(f"out of order after position {self.last_position}")
        if self.contiguous and entry.position != self.last_position + 1:
            raise HistoryError(f"positions {self.last_position + 1}-{entry.position - 1} are missing")
        before = self.view.by_id.get(event.originator_id)
        expected = before.version + 1 if before is not None else 1
        if event.originator_version != expected:
            raise HistoryError(
                f"is version {event.originator_version} of its aggregate, expected {expected}: "
                "an event is missing or out of order")
        if before is None and not isinstance(event, CREATIONS):
            raise HistoryError("belongs to an aggregate that has no creation event before it")
        if before is not None and not isinstance(event, type(before).Event):
            raise HistoryError(f"belongs to an aggregate of another kind ({type(before).__name__})")
        if isinstance(event, RegionYear.ReportFiled) and event.digest and \
                not self.passed_through.holds(event.digest, event.position):
            raise HistoryError("its sealed digest is not one this history passed through: "
                               "an earlier event was altered, removed or reordered")
        aggregate = RECHECKS[type(event)](self.view, before, event)
        produced = aggregate.collect_events()
        if len(produced) != 1 or type(produced[0]) is not type(event) \
                or _fields(produced[0]) != _fields(event):
            raise HistoryError("does not follow from the history before it (a repeat, or altered content)")
        self.view.adopt(entry, aggregate)
        if self.view.entries is None and isinstance(event, Voucher.Registered):
            self.view.by_id[event.originator_id] = _REGISTERED
        self.last_position = entry.position
        self.passed_through.add(entry.position, self.digest.add(entry))

    def finish(self) -> LedgerView:
        """The final reconciliation of every region-year."""
        for grant_id in self.view.grants:
            years = sorted({ry.year for ry in self.view.years_of(grant_id)})
            for year in years:
                failing = [c for c in reconcile(self.view, grant_id, year, None) if not c["holds"]]
                if failing:
                    raise HistoryError(f"{grant_id} {year} does not reconcile: {failing[0]['check']} "
                                       f"({failing[0]['detail']})")
        return self.view


def check_history(entries: Iterable[Entry], progress: Callable[[Entry], None] | None = None) -> Checker:
    checker = Checker()
    for entry in entries:
        checker.check(entry)
        if progress:
            progress(entry)
    checker.finish()
    return checker


# --------------------------------------------------------------------------- verifying a store


def verify_store(app: Any, models: Any, contiguous: bool, witness: tuple[int | None, str] | None = None,
                 progress: Callable[[int], None] | None = None) -> list[str]:
    """Re-check a store's whole history; raises HistoryError naming the first failure.

    Beyond the re-check of every event, the stored events must still hash to the digests
    the read models computed as they applied them, and, given a ``witness`` (position,
    digest) printed earlier, the history up to that position must hash to that digest.
    Returns the lines that say what was proved.
    """
    checker = Checker(contiguous=contiguous, keep_entries=False)
    witnessed = models.witnessed()
    at, expected = witness if witness is not None else (None, None)
    witness_seen = False
    for notification, event in app.read():
        if at is not None and notification.id > at and not witness_seen:
            _witness(checker, at, expected)
            witness_seen = True
        checker.check(Entry(notification.id, event, notification.state))
        seen = witnessed.pop(notification.id, None)
        if seen is not None and seen != checker.digest.value:
            raise HistoryError(
                f"position {notification.id}: the stored events up to here are not those the "
                f"read models applied (digest {seen} then, {checker.digest.value} now); they "
                "were changed after they were recorded")
        if progress:
            progress(1)
    checker.finish()
    if witnessed:
        raise HistoryError(f"position {max(witnessed)}: the read models applied events up to here, "
                           f"but the store holds {checker.digest.count}; events were removed")
    from projections.crosscheck import Differs, compare

    try:
        rows = compare(models, app)
    except Differs as e:
        raise HistoryError(f"the read models: {e} (the read models were altered; grants rebuild makes "
                           "them anew from the events)") from None
    lines = [f"verified {checker.digest.count} events: the history holds; digest {checker.digest.value}",
             f"verified the read models: {rows} rows, each what the events give"]
    if expected is not None and not witness_seen:
        if at is not None and checker.last_position < at:
            raise HistoryError(f"position {at}: the witnessed history reaches position {at}, but the "
                               f"store ends at position {checker.last_position}; events were removed")
        _witness(checker, checker.last_position, expected)
    if expected is not None:
        lines.append(f"witness: the history up to position {at or checker.last_position} is exactly "
                     f"the one with digest {expected}")
    return lines


def _witness(checker: Checker, at: int, expected: str) -> None:
    if checker.digest.value != expected:
        raise HistoryError(f"position {at}: the history up to here is not the witnessed one "
                           f"(digest {expected} witnessed, {checker.digest.value} now); an event "
                           "at or before it was altered, added or removed")
