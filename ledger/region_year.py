"""The RegionYear aggregate: one region's money of one grant for one year.

It owns the balance rules of domain.md: `available` never below zero through the
region's action, requisitions within allocation per pot, no new commitment while a
shortfall is outstanding, nothing new in a closed year. Bookings live on decisions;
this aggregate holds each decision's commitment for the year, so a booking never
touches it and it stays small (one event per allocation, decision change, reservation).
"""

from __future__ import annotations

import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.errors import Duplicate, Insufficient, Malformed, NotFound, Refused
from ledger.ids import region_year_uuid  # noqa: F401 (re-exported: the id is the region-year's)
from ledger.debts import Debt
from ledger.funds import RefUse, Report, YearFunds
from ledger.reclaims import YearDebts
from ledger.reports import YearReports
from ledger.terms import ReportContent
from ledger.values import Amount


class RegionYear(YearFunds, YearReports, YearDebts):
    """Funds, commitments and reservations of one grant, region and year."""

    TOPIC = "grants:RegionYear"

    class Created(Aggregate.Created):
        """The library's generic creation event; unused, named so stored topics stay stable."""

        TOPIC = "grants:RegionYear.Created"

    @staticmethod
    def create_id(grant_id: str, region: str, year: int) -> UUID:
        return region_year_uuid(grant_id, region, year)

    @event("Opened", topic="grants:RegionYear.Opened/v1")
    def __init__(self, grant_id: str, region: str, year: int, recorded_by: str) -> None:
        self.grant_id = grant_id
        self.region = region
        self.year = year
        self.allocations: dict[str, int] = {}
        self.allocation_sources: dict[str, str] = {}
        self.frame: int | None = None
        self.requisitions: dict[str, int] = {}
        self.repaid_by_pot: dict[str, int] = {}
        self.payments: dict[str, int] = {}  # pot -> what the payer paid out
        self.commitments: dict[str, int] = {}
        self.reservations: dict[str, int] = {}
        self.reports: list[Report] = []
        self.debts: dict[str, Debt] = {}  # reclaim ref -> the region's debt (ledger/reclaims.py)
        self.closed = False
        self.refs: dict[str, RefUse] = {}  # --ref -> its use (events from /v2 on carry one)

    # ------------------------------------------------------------------ the state's facts

    def allocate(self, pot: str, amount: Amount, source: str, recorded_by: str) -> bool:
        """Record the region's share of a pot; an identical repeat records nothing.

        An allocation is the state's decision: it is recorded even when it falls below
        what the region committed against its planning frame (the year then shows a
        shortfall).
        """
        self.check_open("allocate")
        self._check_positive(amount, "an allocation")
        if pot in self.allocations:
            if self.allocations[pot] == amount.ore:
                return False
            raise Duplicate(
                f"{self.label} already has {Amount(self.allocations[pot])} allocated from pot {pot!r}"
            )
        self._allocated(pot=pot, amount=amount.ore, source=source, recorded_by=recorded_by)
        return True

    @event("Allocated", topic="grants:RegionYear.Allocated/v1")
    def _allocated(self, pot: str, amount: int, source: str, recorded_by: str) -> None:
        self.allocations[pot] = amount
        self.allocation_sources[pot] = source

    # ------------------------------------------------------------------ the region's facts

    def set_frame(self, amount: Amount, on: datetime.date | None, recorded_by: str,
                  ref: str = "") -> bool:
        """Set the planning frame of a year not yet allocated; False when it already holds.

        The frame the year already has, or a ref already used for this very frame, records
        nothing: the wanted state holds.
        """
        use = RefUse("frame", "", amount.ore, on)
        if self._repeats(ref, use) or (self.frame is not None and self.frame == amount.ore):
            return False
        self._check_frame(amount)
        self._frame_set_with_ref(amount=amount.ore, on=on, ref=ref, recorded_by=recorded_by)
        return True

    def _check_frame(self, amount: Amount) -> None:
        self.check_open("set a planning frame")
        if amount.is_negative:
            raise Malformed(f"a planning frame cannot be negative ({amount})")
        if self.is_allocated:
            raise Refused(
                f"{self.label} is already allocated ({self.allocated}); a planning frame "
                "applies only before allocation"
            )
        needed = self.committed + self.reserved
        if amount < needed:
            raise Insufficient(
                f"cannot lower the planning frame to {amount}: {needed} is committed or reserved "
                f"in {self.label}; would leave {self.year} available at {amount - needed}"
            )

    def recheck_frame_v1(self, amount: Amount, on: datetime.date | None, recorded_by: str) -> None:
        """Re-check a frame recorded before refs (PlanningFrameSet/v1; verify and import only)."""
        self._check_frame(amount)
        self._frame_set(amount=amount.ore, on=on, recorded_by=recorded_by)

    @event("PlanningFrameSet", topic="grants:RegionYear.PlanningFrameSet/v1")
    def _frame_set(self, amount: int, on: datetime.date | None, recorded_by: str) -> None:
        self.frame = amount

    @event("PlanningFrameSetWithRef", topic="grants:RegionYear.PlanningFrameSet/v2")
    def _frame_set_with_ref(self, amount: int, on: datetime.date | None, ref: str, recorded_by: str) -> None:
        self.frame = amount
        if ref:
            self.refs[ref] = RefUse("frame", "", amount, on)

    def requisition(
        self, pot: str, amount: Amount, on: datetime.date, ref: str, recorded_by: str
    ) -> bool:
        """Ask the paying authority for (part of) the allocation of one pot; the same ref and
        content again records nothing (False)."""
        self._check_ref(ref, "a requisition")
        if self._repeats(ref, RefUse("requisition", pot, amount.ore, on)):
            return False
        self._check_requisition(pot, amount)
        self._requisitioned_with_ref(pot=pot, amount=amount.ore, on=on, ref=ref, recorded_by=recorded_by)
        return True

    def _check_requisition(self, pot: str, amount: Amount) -> None:
        self.check_open("requisition")
        self._check_positive(amount, "a requisition")
        if pot not in self.allocations:
            raise NotFound(f"{self.label} has no allocation from pot {pot!r} to requisition")
        room = self.pot_allocated(pot) - self.pot_requisitioned(pot)
        if amount > room:
            raise Insufficient(
                f"cannot requisition {amount} from pot {pot!r}: {self.pot_allocated(pot)} allocated, "
                f"{self.pot_requisitioned(pot)} already requisitioned; would exceed the allocation "
                f"by {amount - room}"
            )

    def recheck_requisition_v1(self, pot: str, amount: Amount, on: datetime.date, ref: str,
                               recorded_by: str) -> None:
        """Re-check a requisition recorded before refs were unique (Requisitioned/v1; verify
        and import only): its ref promised nothing."""
        self._check_requisition(pot, amount)
        self._requisitioned(pot=pot, amount=amount.ore, on=on, ref=ref, recorded_by=recorded_by)

    @event("Requisitioned", topic="grants:RegionYear.Requisitioned/v1")
    def _requisitioned(
        self, pot: str, amount: int, on: datetime.date, ref: str, recorded_by: str
    ) -> None:
        self.requisitions[pot] = self.requisitions.get(pot, 0) + amount
        if ref:  # its first use is remembered, so a later retry of it records nothing
            self.refs.setdefault(ref, RefUse("requisition", pot, amount, on))

    @event("RequisitionedWithRef", topic="grants:RegionYear.Requisitioned/v2")
    def _requisitioned_with_ref(
        self, pot: str, amount: int, on: datetime.date, ref: str, recorded_by: str
    ) -> None:
        self.requisitions[pot] = self.requisitions.get(pot, 0) + amount
        self.refs[ref] = RefUse("requisition", pot, amount, on)

    def set_commitment(
        self, decision_id: str, purpose: str, amount: Amount, on: datetime.date, recorded_by: str
    ) -> bool:
        """Set what a decision commits in this year (decided, amended, revoked, reversed).

        An increase is drawn first from money reserved for the decision's purpose; the
        rest is a new commitment, refused while a shortfall is outstanding and beyond
        what is available. A decrease is always allowed in an open year; the money it
        frees becomes available (it does not return to a reservation).
        Returns False when nothing changes.
        """
        current = self.commitment(decision_id)
        if amount == current:
            return False
        self.check_open(f"change decision {decision_id}'s {self.year} commitment")
        if amount.is_negative:
            raise Malformed(f"a commitment cannot be negative ({amount})")
        drawn = Amount(0)
        if amount > current:
            increase = amount - current
            drawn = min(increase, self.reserved_for(purpose))
            rest = increase - drawn
            if rest:
                more = " more" if current else ""
                reserve = f" beyond the {drawn} reserved for {purpose}" if drawn else ""
                doing = f"commit {increase}{more} for decision {decision_id}{reserve}"
                self._check_no_shortfall(doing)
                self._check_available(rest, doing)
        self._commitment_set(
            decision_id=decision_id, purpose=purpose, amount=amount.ore,
            from_reserve=drawn.ore, on=on, recorded_by=recorded_by,
        )
        return True

    @event("CommitmentSet", topic="grants:RegionYear.CommitmentSet/v1")
    def _commitment_set(
        self, decision_id: str, purpose: str, amount: int, from_reserve: int,
        on: datetime.date, recorded_by: str,
    ) -> None:
        if amount:
            self.commitments[decision_id] = amount
        else:
            self.commitments.pop(decision_id, None)
        if from_reserve:
            self.reservations[purpose] -= from_reserve

    def reserve(self, purpose: str, amount: Amount, on: datetime.date, ref: str,
                recorded_by: str) -> bool:
        """Set part of the year's uncommitted money aside for a purpose; the same ref and
        content again records nothing (False)."""
        self._check_ref(ref, "a reservation")
        if self._repeats(ref, RefUse("reserve", purpose, amount.ore, on)):
            return False
        self._check_reserve(purpose, amount)
        self._reserved_with_ref(purpose=purpose, amount=amount.ore, on=on, ref=ref, recorded_by=recorded_by)
        return True

    def _check_reserve(self, purpose: str, amount: Amount) -> None:
        self.check_open("reserve")
        self._check_positive(amount, "a reservation")
        doing = f"reserve {amount} for {purpose}"
        self._check_no_shortfall(doing)
        self._check_available(amount, doing)

    def recheck_reserve_v1(self, purpose: str, amount: Amount, on: datetime.date, recorded_by: str) -> None:
        """Re-check a reservation recorded before refs (Reserved/v1; verify and import only)."""
        self._check_reserve(purpose, amount)
        self._reserved(purpose=purpose, amount=amount.ore, on=on, recorded_by=recorded_by)

    @event("Reserved", topic="grants:RegionYear.Reserved/v1")
    def _reserved(self, purpose: str, amount: int, on: datetime.date, recorded_by: str) -> None:
        self.reservations[purpose] = self.reservations.get(purpose, 0) + amount

    @event("ReservedWithRef", topic="grants:RegionYear.Reserved/v2")
    def _reserved_with_ref(self, purpose: str, amount: int, on: datetime.date, ref: str,
                           recorded_by: str) -> None:
        self.reservations[purpose] = self.reservations.get(purpose, 0) + amount
        self.refs[ref] = RefUse("reserve", purpose, amount, on)

    def pay(self, pot: str, amount: Amount, on: datetime.date, ref: str, recorded_by: str) -> bool:
        """Record what the payer (SKL, Kammarkollegiet) paid out against the region's
        requisitions of a pot: never more than is requisitioned (and so allocated). The same
        ref and content again records nothing (False)."""
        self._check_ref(ref, "a payment")
        if self._repeats(ref, RefUse("pay", pot, amount.ore, on)):
            return False
        self.check_open("record a payment")
        self._check_positive(amount, "a payment")
        if pot not in self.allocations:
            raise NotFound(f"{self.label} has no allocation from pot {pot!r} to pay out")
        room = self.pot_requisitioned(pot) - self.pot_paid(pot)
        if amount > room:
            raise Insufficient(
                f"cannot record a payment of {amount} from pot {pot!r}: {self.pot_requisitioned(pot)} "
                f"requisitioned, {self.pot_paid(pot)} already paid; would exceed the requisitions by "
                f"{amount - room}")
        self._paid(pot=pot, amount=amount.ore, on=on, ref=ref, recorded_by=recorded_by)
        return True

    @event("Paid", topic="grants:RegionYear.Paid/v1")
    def _paid(self, pot: str, amount: int, on: datetime.date, ref: str, recorded_by: str) -> None:
        self.payments[pot] = self.payments.get(pot, 0) + amount
        self.refs[ref] = RefUse("pay", pot, amount, on)

    def repay(
        self, pot: str, amount: Amount, on: datetime.date, ref: str, recorded_by: str
    ) -> bool:
        """Return uncommitted money to the paying authority (only up to `available`); the
        same ref and content again records nothing (False)."""
        self._check_ref(ref, "a repayment")
        if self._repeats(ref, RefUse("repay", pot, amount.ore, on)):
            return False
        self._check_repay(pot, amount)
        self._repaid_with_ref(pot=pot, amount=amount.ore, on=on, ref=ref, recorded_by=recorded_by)
        return True

    def _check_repay(self, pot: str, amount: Amount) -> None:
        self.check_open("repay")
        self._check_positive(amount, "a repayment")
        if pot not in self.allocations:
            raise NotFound(f"{self.label} has no allocation from pot {pot!r} to repay")
        if amount > self.pot_allocated(pot):
            raise Insufficient(
                f"cannot repay {amount} to pot {pot!r}: only {self.pot_allocated(pot)} is allocated from it"
            )
        self._check_available(amount, f"repay {amount} (revoke or amend decisions first)")

    def recheck_repay_v1(self, pot: str, amount: Amount, on: datetime.date, ref: str,
                         recorded_by: str) -> None:
        """Re-check a repayment recorded before refs were unique (Repaid/v1; verify and import only)."""
        self._check_repay(pot, amount)
        self._repaid(pot=pot, amount=amount.ore, on=on, ref=ref, recorded_by=recorded_by)

    @event("Repaid", topic="grants:RegionYear.Repaid/v1")
    def _repaid(
        self, pot: str, amount: int, on: datetime.date, ref: str, recorded_by: str
    ) -> None:
        self.repaid_by_pot[pot] = self.repaid_by_pot.get(pot, 0) + amount
        if ref:  # its first use is remembered, so a later retry of it records nothing
            self.refs.setdefault(ref, RefUse("repay", pot, amount, on))

    @event("RepaidWithRef", topic="grants:RegionYear.Repaid/v2")
    def _repaid_with_ref(
        self, pot: str, amount: int, on: datetime.date, ref: str, recorded_by: str
    ) -> None:
        self.repaid_by_pot[pot] = self.repaid_by_pot.get(pot, 0) + amount
        self.refs[ref] = RefUse("repay", pot, amount, on)

    @event("ReportFiled", topic="grants:RegionYear.ReportFiled/v1")
    def _report_filed(
        self, filed_on: datetime.date, to: str, covers: list, patient_units: bool | None,
        employee_reps: bool | None, ref: str, figures: dict, position: int, digest: str,
        recorded_by: str,
    ) -> None:
        self.reports.append(Report(
            filed_on, to, tuple(covers), patient_units, employee_reps, ref,
            dict(figures), position, digest,
        ))

    @event("ReportFiledWithContent", topic="grants:RegionYear.ReportFiled/v2")
    def _report_filed_with_content(
        self, filed_on: datetime.date, to: str, covers: list, patient_units: bool | None,
        employee_reps: bool | None, ref: str, figures: dict, position: int, digest: str,
        measures: list, patient_units_how: str, employee_reps_how: str, continuation: str,
        responsible: str, recorded_by: str,
    ) -> None:
        self.reports.append(Report(
            filed_on, to, tuple(covers), patient_units, employee_reps, ref, dict(figures), position,
            digest, ReportContent(dict(measures), patient_units_how, employee_reps_how, continuation,
                                  responsible),
        ))

    def close(self, on: datetime.date, recorded_by: str) -> bool:
        """Lock the year; later facts about it need an explicit reopening. A closed year
        stays as it is (False): the wanted state holds, whatever date the retry gives."""
        if self.closed:
            return False
        self._closed(on=on, recorded_by=recorded_by)
        return True

    @event("YearClosed", topic="grants:RegionYear.YearClosed/v1")
    def _closed(self, on: datetime.date, recorded_by: str) -> None:
        self.closed = True

    def reopen(self, on: datetime.date, reason: str, recorded_by: str) -> bool:
        """Reopen a closed year, with the reason recorded. A year that is open (never
        closed, or already reopened) stays as it is (False): the wanted state holds."""
        if not reason.strip():
            raise Malformed("reopening a year needs a --reason")
        if not self.closed:
            return False
        self._reopened(on=on, reason=reason, recorded_by=recorded_by)
        return True

    @event("YearReopened", topic="grants:RegionYear.YearReopened/v1")
    def _reopened(self, on: datetime.date, reason: str, recorded_by: str) -> None:
        self.closed = False
