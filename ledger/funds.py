"""A region-year's money as values and figures: the filed report and the use of a ref
(values the RegionYear keeps), and :class:`YearFunds`, the figures of domain.md's balance
rules (allocated, requisitioned, committed, reserved, available, shortfall) and the guards
built on them, read from the state the RegionYear's events build.

The RegionYear aggregate (:mod:`ledger.region_year`) records the events and owns the
rules; it is a YearFunds, so every figure and guard has one definition, here.
"""

from __future__ import annotations

import datetime

import attrs

from ledger.errors import Closed, Duplicate, Insufficient, Malformed, Shortfall
from ledger.terms import ReportContent
from ledger.values import Amount, Region


@attrs.frozen
class Report:
    """A filed yearly follow-up report (uppföljning), sealed with what it reported.

    The seal (not part of a report's identity) keeps the figures the report stated, in
    öre, and the position and digest of the history they came from, so a later audit
    can show the year as filed beside the year as it stands. Its ``content`` (measures,
    involvement, continuation, responsible) is part of its identity.
    """

    filed_on: datetime.date
    to: str
    covers: tuple[str, ...]
    patient_units: bool | None
    employee_reps: bool | None
    ref: str
    figures: dict[str, int] = attrs.field(factory=dict, eq=False)
    position: int = attrs.field(default=0, eq=False)
    digest: str = attrs.field(default="", eq=False)
    content: ReportContent = attrs.field(factory=ReportContent)


@attrs.frozen
class RefUse:
    """What a reference was used for in a region-year: the kind of fact and its content.

    A command sent again with the same ``--ref`` and the same content is a retry of one
    already recorded; the same ref with other content is refused (it names another fact).
    """

    kind: str  # one of NOUNS
    what: str  # the pot (requisition, repay, pay), the purpose (reserve), "" for a frame,
    # the ground (reclaim), the reclaim's ref (settle, waive), "REF at P %" (rate)
    amount: int
    on: datetime.date | None

    NOUNS = {"pay": "a payment of {a} from pot {w}", "requisition": "a requisition of {a} from pot {w}",
             "reserve": "a reservation of {a} for {w}", "repay": "a repayment of {a} to pot {w}",
             "frame": "a planning frame of {a}", "reclaim": "a reclaim of {a} ({w})",
             "rate": "a rate of {w}", "settle": "a repayment of {a} against reclaim {w}",
             "waive": "a waiver of {a} of reclaim {w}", "waive-interest": "a waiver of {a} interest of reclaim {w}"}

    def describe(self) -> str:
        text = self.NOUNS[self.kind].format(a=Amount(self.amount), w=self.what)
        return text + (f" on {self.on.isoformat()}" if self.on is not None else "")


class YearFunds:
    """The figures and guards of a region-year, over the state its events build (a mixin
    of :class:`ledger.region_year.RegionYear`, whose events set the attributes read here:
    grant_id, region, year, allocations, frame, requisitions, payments, repaid_by_pot, commitments,
    reservations, closed and refs)."""

    # ------------------------------------------------------------------ figures

    @property
    def label(self) -> str:
        return f"{Region(self.region)} {self.year}"

    @property
    def is_allocated(self) -> bool:
        return bool(self.allocations)

    def pot_allocated(self, pot: str) -> Amount:
        return Amount(self.allocations.get(pot, 0) - self.repaid_by_pot.get(pot, 0))

    def pot_requisitioned(self, pot: str) -> Amount:
        """Requisitioned and kept: what was repaid out of paid money no longer counts."""
        return Amount(min(self.requisitions.get(pot, 0), self.pot_allocated(pot).ore))

    @property
    def allocated(self) -> Amount:
        return Amount(sum(self.allocations.values()) - sum(self.repaid_by_pot.values()))

    def pot_paid(self, pot: str) -> Amount:
        return Amount(self.payments.get(pot, 0))

    @property
    def paid(self) -> Amount:
        """What the payer paid out to the region for the year (all pots)."""
        return Amount(sum(self.payments.values()))

    @property
    def repaid(self) -> Amount:
        return Amount(sum(self.repaid_by_pot.values()))

    @property
    def requisitioned(self) -> Amount:
        return Amount(sum(self.pot_requisitioned(p).ore for p in self.allocations))

    @property
    def funds(self) -> Amount:
        """What the region keeps: the allocation less what the state reclaimed (and did not
        waive) once the year is allocated, the planning frame before that."""
        if self.is_allocated:
            return self.allocated - self.kept_back
        return Amount(self.frame or 0)

    @property
    def frame_amount(self) -> Amount | None:
        return None if self.frame is None else Amount(self.frame)

    @property
    def committed(self) -> Amount:
        return Amount(sum(self.commitments.values()))

    @property
    def reserved(self) -> Amount:
        return Amount(sum(self.reservations.values()))

    def reserved_for(self, purpose: str) -> Amount:
        return Amount(self.reservations.get(purpose, 0))

    @property
    def available(self) -> Amount:
        return Amount(max(0, self._headroom()))

    @property
    def shortfall(self) -> Amount:
        return Amount(max(0, -self._headroom()))

    def _headroom(self) -> int:
        return self.funds.ore - self.committed.ore - self.reserved.ore

    def commitment(self, decision_id: str) -> Amount:
        return Amount(self.commitments.get(decision_id, 0))

    # ------------------------------------------------------------------ guards

    def check_open(self, doing: str) -> None:
        """Nothing new in a closed year: it needs an explicit reopening first."""
        if self.closed:
            raise Closed(f"{self.label} is closed; cannot {doing} (reopen it first)")

    def _check_no_shortfall(self, doing: str) -> None:
        if self.shortfall:
            raise Shortfall(
                f"{self.label} has a shortfall of {self.shortfall} outstanding; cannot {doing} "
                "until decisions are amended or revoked"
            )

    def _check_available(self, amount: Amount, doing: str) -> None:
        if amount > self.available:
            raise Insufficient(
                f"cannot {doing}: {self.available} available in {self.label}; "
                f"would leave {self.year} available at {self.available - amount}"
            )

    def _repeats(self, ref: str, use: RefUse) -> bool:
        """Whether ``ref`` was already used for exactly this fact (a retry: nothing to record).

        A ref is unique within the grant's region-year across requisitions, reservations,
        repayments and planning frames: the same ref for anything else is refused.
        """
        known = self.refs.get(ref) if ref else None
        if known is None:
            return False
        if known == use:
            return True
        raise Duplicate(f"ref {ref!r} is already used in {self.label} for {known.describe()}; "
                        f"not again for {use.describe()}")

    @staticmethod
    def _check_ref(ref: str, doing: str) -> None:
        if not ref.strip():
            raise Malformed(f"{doing} needs a --ref (unique within the region-year), so a retry "
                            "records nothing twice")

    @staticmethod
    def _check_positive(amount: Amount, what: str) -> None:
        if amount.ore <= 0:
            raise Malformed(f"{what} must be more than zero, not {amount}")
