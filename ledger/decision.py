"""The Decision aggregate: one decision (beslut) of a health-care director, and its bookings.

It owns the schedule (what the decision grants each year), its amendments and
revocation, and the rule that bookings per year never exceed the decision's amount for
that year. Its vouchers are indexed by the Voucher aggregate (:mod:`ledger.voucher`).
"""

from __future__ import annotations

import datetime
from uuid import UUID

import attrs
from eventsourcing.domain import Aggregate, event

from ledger.clock import not_after_today, recorded_day
from ledger.errors import Duplicate, Insufficient, Malformed, Refused
from ledger.ids import decision_uuid  # noqa: F401 (re-exported: the id is the decision's)
from ledger.terms import AMENDED, LIVE, REVOKED, DecisionTerms, check_schedule, from_stored, stored
from ledger.bookings import Booking, PackedBookings
from ledger.values import Amount, amount_of


def _term(name: str) -> property:
    return property(lambda self: getattr(self.terms, name), doc=f"The decision's {name} (see DecisionTerms).")


def schedule_pairs(schedule: dict[int, Amount]) -> list[list[int]]:
    """A schedule as stored in events: [[year, öre], ...] in year order."""
    return [[year, amount.ore] for year, amount in sorted(schedule.items())]


class Decision(PackedBookings, Aggregate):
    """A decision granting money to an activity for one purpose, over one or more years."""

    TOPIC = "grants:Decision"

    class Created(Aggregate.Created):
        """The library's generic creation event; unused, named so stored topics stay stable."""

        TOPIC = "grants:Decision.Created"

    @staticmethod
    def create_id(grant_id: str, decision_id: str) -> UUID:
        return decision_uuid(grant_id, decision_id)

    @classmethod
    def decide(cls, grant_id: str, decision_id: str, region: str, terms: DecisionTerms,
               recorded_by: str, *, today: datetime.date) -> Decision:
        """A new decision; the schedule needs at least one year and no negative amounts,
        and it cannot be dated after ``today``, the day it is recorded."""
        check_schedule(terms.schedule)
        not_after_today(terms.decided_on, today, f"decision {decision_id} is dated")
        terms.check()
        return cls(grant_id=grant_id, decision_id=decision_id, region=region, **stored(terms),
                   recorded_by=recorded_by)

    @event("Decided", topic="grants:Decision.Decided/v1")
    def __init__(
        self,
        grant_id: str,
        decision_id: str,
        region: str,
        decided_by: str,
        decided_on: datetime.date,
        area: str,
        activity: str,
        purpose: str,
        schedule: list,
        continuation: str,
        ref: str,
        recorded_by: str,
    ) -> None:
        self.grant_id = grant_id
        self.decision_id = decision_id
        self.region = region
        self.terms = from_stored(DecisionTerms, locals())  # the event's fields that are its terms
        self.schedule: dict[int, int] = {int(y): int(a) for y, a in schedule}
        self.years_ever = set(self.schedule)
        self.changed_on = decided_on
        self.last_amendment: tuple | None = None
        self.revocation: tuple[str, datetime.date, str] | None = None  # decided_by, on, reason
        self.status = LIVE
        self.bookings: dict[str, Booking] = {}
        self.spent_by_year: dict[int, int] = {}

    # the terms as first decided (an amendment changes the schedule, not the terms)
    decided_by = _term("decided_by")
    decided_on = _term("decided_on")
    area = _term("area")
    activity = _term("activity")
    purpose = _term("purpose")
    continuation = _term("continuation")
    ref = _term("ref")

    @property
    def recorded_on(self) -> datetime.date:
        """The day the decision was recorded (see :mod:`ledger.clock`)."""
        return recorded_day(self.created_on)

    # ------------------------------------------------------------------ figures

    def same_decision(self, region: str, terms: DecisionTerms) -> bool:
        """True when a repeated `decide` says exactly what was first decided (a safe retry)."""
        return (self.region, self.terms) == (region, terms)

    @property
    def years(self) -> list[int]:
        return sorted(set(self.schedule) | set(self.spent_by_year))

    def granted_for(self, year: int) -> Amount:
        """The schedule's amount for the year (as decided or last amended)."""
        return amount_of(self.schedule.get(year, 0))

    def spent_for(self, year: int) -> Amount:
        return amount_of(self.spent_by_year.get(year, 0))

    def committed_for(self, year: int) -> Amount:
        """What the decision commits in a year: the schedule, or only what was spent once revoked."""
        if self.status == REVOKED:
            return self.spent_for(year)
        return self.granted_for(year)

    def remaining_for(self, year: int) -> Amount:
        return self.committed_for(year) - self.spent_for(year)

    # ------------------------------------------------------------------ amend and revoke

    def amend(
        self, schedule: dict[int, Amount], decided_by: str, on: datetime.date, reason: str,
        recorded_by: str, *, today: datetime.date,
    ) -> bool:
        """Replace the whole schedule; no year may fall below what is already booked on it.

        The same amendment sent again (same schedule, decider, date, reason) records nothing.
        """
        self._check_live("amend")
        check_schedule(schedule)
        if not reason.strip():
            raise Malformed("an amendment needs a --reason")
        pairs = schedule_pairs(schedule)
        if self.last_amendment == (pairs, decided_by, on, reason):
            return False
        self._check_date(on, "amend")
        not_after_today(on, today, f"the amendment of decision {self.decision_id} is dated")
        for year in sorted(set(self.spent_by_year) | set(schedule)):
            new = schedule.get(year, Amount(0))
            if new < self.spent_for(year):
                raise Insufficient(
                    f"cannot amend decision {self.decision_id}: {self.spent_for(year)} is already "
                    f"booked on {year}, more than the new {new}"
                )
        self._amended(schedule=pairs, decided_by=decided_by, on=on, reason=reason,
                      recorded_by=recorded_by)
        return True

    def _check_date(self, on: datetime.date, doing: str) -> None:
        """A change cannot be dated before the decision, or before its last change."""
        if on < self.changed_on:
            raise Refused(
                f"cannot {doing} decision {self.decision_id} as of {on.isoformat()}: it was "
                f"decided or last changed on {self.changed_on.isoformat()}"
            )

    @event("Amended", topic="grants:Decision.Amended/v1")
    def _amended(
        self, schedule: list, decided_by: str, on: datetime.date, reason: str, recorded_by: str
    ) -> None:
        self.schedule = {int(y): int(a) for y, a in schedule}
        self.years_ever |= set(self.schedule)
        self.status = AMENDED
        self.changed_on = on
        self.last_amendment = ([list(p) for p in schedule], decided_by, on, reason)

    def revoke(self, decided_by: str, on: datetime.date, reason: str, recorded_by: str, *,
               today: datetime.date) -> bool:
        """Revoke the decision: what is unspent is released, what is booked stays committed.

        A decision already revoked for the same reason stays as it is (False: the wanted
        state holds, whoever and whatever date the retry names); for another reason the
        revocation is refused, naming the one recorded.
        """
        if not reason.strip():
            raise Malformed("a revocation needs a --reason")
        if self.status == REVOKED and self.revocation is not None:
            by, revoked_on, why = self.revocation
            if why == reason:
                return False
            raise Refused(f"decision {self.decision_id} is already revoked, on {revoked_on.isoformat()} "
                          f"by {by} ({why}); cannot revoke it again for another reason")
        self._check_live("revoke")
        self._check_date(on, "revoke")
        not_after_today(on, today, f"the revocation of decision {self.decision_id} is dated")
        self._revoked(decided_by=decided_by, on=on, reason=reason, recorded_by=recorded_by)
        return True

    @event("Revoked", topic="grants:Decision.Revoked/v1")
    def _revoked(self, decided_by: str, on: datetime.date, reason: str, recorded_by: str) -> None:
        self.status = REVOKED
        self.changed_on = on
        self.revocation = (decided_by, on, reason)

    def _check_live(self, doing: str) -> None:
        if self.status == REVOKED:
            raise Refused(f"decision {self.decision_id} is revoked; cannot {doing} it")

    # ------------------------------------------------------------------ bookings

    def spend(
        self, voucher: str, year: int, amount: Amount, booked_on: datetime.date, object: str,
        text: str, recorded_by: str, *, today: datetime.date, carry_over: bool = False,
    ) -> bool:
        """Book a cost, or with a negative amount a credit (a refund, a corrected invoice)
        that lowers what is spent in the year, never below zero. The same voucher with the
        same content again records nothing.

        A booking is dated in the year it is booked for (or the next, when the year's
        agreement states a ``carry_over`` term), not before the decision and not after
        ``today``, the day it is recorded.
        """
        booking = Booking(voucher, year, amount.ore, booked_on, object, text)
        if self.has_voucher(voucher):
            if self.booking(voucher).same_booking(booking):
                return False
            raise Duplicate(
                f"voucher {voucher} is already booked on decision {self.decision_id} with other content"
            )
        if self.status == REVOKED:
            raise Refused(f"decision {self.decision_id} is revoked; cannot book on it")
        if not amount.ore:
            raise Malformed(f"a booking must be more or less than zero, not {amount}")
        if year not in self.schedule or not self.schedule[year]:
            years = ", ".join(str(y) for y, a in sorted(self.schedule.items()) if a)
            raise Refused(
                f"decision {self.decision_id} grants nothing for {year} (its years: {years})"
            )
        if booked_on.year != year and not (carry_over and booked_on.year == year + 1):
            raise Refused(
                f"voucher {voucher} is booked on {booked_on.isoformat()}, which is not in {year}, "
                f"the year it is booked for"
            )
        if booked_on < self.decided_on:
            raise Refused(
                f"voucher {voucher} is booked on {booked_on.isoformat()}, before decision "
                f"{self.decision_id} was taken on {self.decided_on.isoformat()}"
            )
        not_after_today(booked_on, today, f"voucher {voucher} is booked on")
        self._check_spent_moves(year, amount, f"book {amount}" if amount.ore > 0 else f"credit {-amount}")
        fields = dict(voucher=voucher, year=year, booked_on=booked_on, object=object, text=text,
                      recorded_by=recorded_by)
        if amount.ore > 0:
            self._spent(amount=amount.ore, **fields)
        else:
            self._credited(amount=-amount.ore, **fields)
        return True

    def _check_spent_moves(self, year: int, change: Amount, doing: str) -> None:
        """What is spent in a year stays within the year's amount and never below zero."""
        spent = self.spent_by_year.get(year, 0)
        committed = spent if self.status == REVOKED else self.schedule.get(year, 0)
        if 0 <= spent + change.ore <= committed:
            return  # the common case, in plain numbers (a file brings tens of thousands)
        remaining, spent = self.remaining_for(year), self.spent_for(year)
        if change > remaining:
            raise Insufficient(
                f"cannot {doing} on decision {self.decision_id} for {year}: "
                f"{self.granted_for(year)} granted, {spent} already booked; "
                f"would leave {year} remaining at {remaining - change}"
            )
        if spent + change < Amount(0):
            raise Insufficient(
                f"cannot {doing} on decision {self.decision_id} for {year}: {spent} booked; "
                f"would leave {year} spent at {spent + change}, below zero"
            )

    @event("Spent", topic="grants:Decision.Spent/v1")
    def _spent(
        self, voucher: str, year: int, amount: int, booked_on: datetime.date, object: str,
        text: str, recorded_by: str,
    ) -> None:
        self._add(Booking(voucher, year, amount, booked_on, object, text))
        self.spent_by_year[year] = self.spent_by_year.get(year, 0) + amount

    @event("Credited", topic="grants:Decision.Credited/v1")
    def _credited(
        self, voucher: str, year: int, amount: int, booked_on: datetime.date, object: str,
        text: str, recorded_by: str,
    ) -> None:
        """A credit of ``amount`` öre (positive): a booking of minus that much."""
        self._add(Booking(voucher, year, -amount, booked_on, object, text))
        self.spent_by_year[year] = self.spent_by_year.get(year, 0) - amount

    def reverse(self, voucher: str, on: datetime.date, reason: str, recorded_by: str, *,
                today: datetime.date) -> bool:
        """Reverse a booking; reversing it again with the same date and reason records nothing."""
        booking = self.booking(voucher)
        if booking.is_reversed:
            if (booking.reversed_on, booking.reversal_reason) == (on, reason):
                return False
            raise Refused(
                f"voucher {voucher} was already reversed on {booking.reversed_on.isoformat()}"
            )
        if not reason.strip():
            raise Malformed("a reversal needs a --reason")
        not_after_today(on, today, f"the reversal of voucher {voucher} is dated")
        self._check_spent_moves(booking.year, Amount(-booking.amount), f"reverse voucher {voucher}")
        self._reversed(voucher=voucher, on=on, reason=reason, recorded_by=recorded_by)
        return True

    @event("Reversed", topic="grants:Decision.Reversed/v1")
    def _reversed(self, voucher: str, on: datetime.date, reason: str, recorded_by: str) -> None:
        booking = self.booking(voucher)
        self._replace(attrs.evolve(booking, reversed_on=on, reversal_reason=reason))
        self.spent_by_year[booking.year] -= booking.amount
