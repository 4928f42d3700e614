"""The state's reclaims of a region-year's money, as the RegionYear records them.

:class:`YearDebts` is a part of the RegionYear aggregate (its base class; its events are
the RegionYear's, with their own stable topics): a reclaim decision of the paying
authority (återkrav) creates a :class:`~ledger.debts.Debt`; a repayment against it, a
waiver (eftergift) and a change of its interest rate settle or change it. A reclaim takes
the money out of what the region keeps (``funds``), whatever is available: money already
spent stays committed, so the year shows a shortfall until decisions are amended or
revoked, and the debt stays until it is repaid or waived.

These facts are the state's and the region's debt outlives the year: they are taken in a
closed year too (the region's own facts there need a reopening).
"""

from __future__ import annotations

import datetime

from typing import Any

from eventsourcing.domain import Aggregate

from ledger.clock import not_after_today
from ledger.debts import GROUNDS, Debt, Settlement, parse_rate
from ledger.errors import Insufficient, Malformed, NotFound, Refused
from ledger.funds import RefUse
from ledger.values import Amount


class YearDebts(Aggregate):
    """The reclaims of a region-year: commands that check, events that record (a base of RegionYear)."""

    class Created(Aggregate.Created):
        """The library's generic creation event; never recorded (RegionYear.Opened creates)."""

        TOPIC = "grants:YearDebts.Created"

    # ------------------------------------------------------------------ figures

    @property
    def reclaimed(self) -> Amount:
        """All principal the state reclaimed for the year."""
        return Amount(sum(d.amount for d in self.debts.values()))

    @property
    def waived(self) -> Amount:
        """Principal the state waived (the region keeps that money after all)."""
        return Amount(sum(d.waived for d in self.debts.values()))

    @property
    def owed(self) -> Amount:
        """Principal still owed: reclaimed, neither repaid nor waived."""
        return Amount(sum(d.owed for d in self.debts.values()))

    @property
    def kept_back(self) -> Amount:
        """What the reclaims take out of the money the region keeps: reclaimed less waived."""
        return self.reclaimed - self.waived

    def debt(self, reclaim: str | None) -> Debt:
        """A reclaim by its ref; without one, the year's only reclaim still owed."""
        if reclaim:
            if reclaim not in self.debts:
                known = ", ".join(self.debts) or "none"
                raise NotFound(f"{self.label} has no reclaim {reclaim!r} (its reclaims: {known})")
            return self.debts[reclaim]
        if not self.debts:
            raise NotFound(f"{self.label} has no reclaim (grants reclaim records one)")
        open_ = [d for d in self.debts.values() if d.owed or d.rates] or list(self.debts.values())
        if len(open_) > 1:
            raise Refused(f"{self.label} has {len(open_)} reclaims ({', '.join(d.ref for d in open_)}); "
                          "name one with --reclaim REF")
        return open_[0]

    # ------------------------------------------------------------------ commands

    def reclaim(self, ref: str, ground: str, amount: Amount, decided_on: datetime.date,
                due: datetime.date | None, rate: str, recorded_by: str, *, today: datetime.date) -> bool:
        """Record the paying authority's reclaim decision: a debt of ``amount``, at most what
        the region keeps of the year's allocation. The same ref and content again records nothing."""
        self._check_ref(ref, "a reclaim")
        if ground not in GROUNDS:
            raise Malformed(f"a reclaim's ground is one of {', '.join(GROUNDS)}, not {ground!r}")
        rate = parse_rate(rate) if rate else ""
        if self._repeats(ref, RefUse("reclaim", ground, amount.ore, decided_on)):
            if (self.debts[ref].due, self.debts[ref].rates[:1]) == (due, [(decided_on, rate)] if rate else []):
                return False
            raise Refused(f"reclaim {ref!r} of {self.label} is already recorded with another due day or rate")
        self._check_positive(amount, "a reclaim")
        not_after_today(decided_on, today, f"the reclaim {ref} is decided")
        if due is not None and due < decided_on:
            raise Malformed(f"a reclaim is due on or after its decision ({decided_on.isoformat()}), "
                            f"not {due.isoformat()}")
        keeps = self.allocated - self.kept_back
        if amount > keeps:
            raise Insufficient(
                f"cannot reclaim {amount} from {self.label}: the region keeps {keeps} of its "
                f"{self.allocated} allocated; would reclaim {amount - keeps} more than it was given")
        self._reclaimed(ref=ref, ground=ground, amount=amount.ore, decided_on=decided_on, due=due,
                        rate=rate, recorded_by=recorded_by)
        return True

    def set_rate(self, reclaim: str | None, rate: str, applies_from: datetime.date, ref: str,
                 recorded_by: str) -> bool:
        """Record the interest rate that applies to a reclaim from a day on (the state's lending
        rate changes); the same ref and content again records nothing."""
        self._check_ref(ref, "a rate change")
        debt = self.debt(reclaim)
        rate = parse_rate(rate)
        if self._repeats(ref, RefUse("rate", f"{debt.ref} at {rate} %", 0, applies_from)):
            return False
        later = [d for d, _ in debt.rates if d >= applies_from]
        if later:
            raise Refused(f"reclaim {debt.ref}'s rate already changes on {later[-1].isoformat()}; a new rate "
                          "applies from a later day")
        self._rate_set(reclaim=debt.ref, rate=rate, applies_from=applies_from, ref=ref, recorded_by=recorded_by)
        return True

    def settle(self, reclaim: str | None, amount: Amount, on: datetime.date, ref: str, recorded_by: str,
               *, today: datetime.date) -> bool:
        """Record a repayment against a reclaim: its principal first, then its interest, never
        more than is owed on that day. The same ref and content again records nothing."""
        self._check_ref(ref, "a repayment")
        debt = self.debt(reclaim)
        if self._repeats(ref, RefUse("settle", debt.ref, amount.ore, on)):
            return False
        self._check_positive(amount, "a repayment")
        self._check_day(debt, on, "repayment", today)
        principal, interest = debt.split(amount.ore)
        due = debt.interest(on)
        if interest > due:
            raise Insufficient(
                f"cannot repay {amount} against reclaim {debt.ref}: {Amount(debt.owed)} owed and "
                f"{Amount(due)} interest on {on.isoformat()}; would repay {Amount(interest - due)} too much")
        self._settled(reclaim=debt.ref, amount=amount.ore, principal=principal, interest=interest,
                      on=on, ref=ref, recorded_by=recorded_by)
        return True

    def waive(self, reclaim: str | None, amount: Amount, interest: bool, on: datetime.date, reason: str,
              ref: str, recorded_by: str, *, today: datetime.date) -> bool:
        """Record a waiver (eftergift) of part or all of a reclaim's principal, or with
        ``interest`` of its interest accrued by then. The same ref and content again records nothing."""
        self._check_ref(ref, "a waiver")
        if not reason.strip():
            raise Malformed("a waiver needs its --reason")
        debt = self.debt(reclaim)
        if self._repeats(ref, RefUse("waive-interest" if interest else "waive", debt.ref, amount.ore, on)):
            return False
        self._check_positive(amount, "a waiver")
        self._check_day(debt, on, "waiver", today)
        most, what = (debt.interest(on), "interest") if interest else (debt.owed, "principal")
        if amount.ore > most:
            raise Insufficient(
                f"cannot waive {amount} of reclaim {debt.ref}'s {what}: {Amount(most)} is owed on "
                f"{on.isoformat()}; would waive {amount - Amount(most)} too much")
        self._waived(reclaim=debt.ref, principal=0 if interest else amount.ore,
                     interest=amount.ore if interest else 0, on=on, reason=reason.strip(), ref=ref,
                     recorded_by=recorded_by)
        return True

    def _check_day(self, debt: Debt, on: datetime.date, what: str, today: datetime.date) -> None:
        not_after_today(on, today, f"the {what} against reclaim {debt.ref} is dated")
        if on < debt.last_day:
            raise Refused(f"a {what} against reclaim {debt.ref} is dated on or after "
                          f"{debt.last_day.isoformat()} (its last fact), not {on.isoformat()}")

    # ------------------------------------------------------------------ events
    # Explicit event classes, triggered on the aggregate's own copy of each (``type(self).X``):
    # an `@event` method in a base class would trigger the base's class, not RegionYear's.

    def _reclaimed(self, **fields) -> None:
        self.trigger_event(type(self).Reclaimed, **fields)

    def _rate_set(self, **fields) -> None:
        self.trigger_event(type(self).ReclaimRateSet, **fields)

    def _settled(self, **fields) -> None:
        self.trigger_event(type(self).ReclaimRepaid, **fields)

    def _waived(self, **fields) -> None:
        self.trigger_event(type(self).ReclaimWaived, **fields)

    class Reclaimed(Aggregate.Event):
        TOPIC = "grants:RegionYear.Reclaimed/v1"
        ref: str
        ground: str
        amount: int
        decided_on: datetime.date
        due: datetime.date | None
        rate: str
        recorded_by: str

        def apply(self, aggregate: Any) -> None:
            aggregate.debts[self.ref] = Debt(self.ref, self.ground, self.decided_on, self.amount, self.due,
                                             [(self.decided_on, self.rate)] if self.rate else [])
            aggregate.refs[self.ref] = RefUse("reclaim", self.ground, self.amount, self.decided_on)

    class ReclaimRateSet(Aggregate.Event):
        TOPIC = "grants:RegionYear.ReclaimRateSet/v1"
        reclaim: str
        rate: str
        applies_from: datetime.date
        ref: str
        recorded_by: str

        def apply(self, aggregate: Any) -> None:
            aggregate.debts[self.reclaim].rates.append((self.applies_from, self.rate))
            aggregate.refs[self.ref] = RefUse("rate", f"{self.reclaim} at {self.rate} %", 0, self.applies_from)

    class ReclaimRepaid(Aggregate.Event):
        TOPIC = "grants:RegionYear.ReclaimRepaid/v1"
        reclaim: str
        amount: int
        principal: int
        interest: int
        on: datetime.date
        ref: str
        recorded_by: str

        def apply(self, aggregate: Any) -> None:
            aggregate.debts[self.reclaim].settlements.append(
                Settlement("repaid", self.on, self.principal, self.interest, self.ref))
            aggregate.refs[self.ref] = RefUse("settle", self.reclaim, self.amount, self.on)

    class ReclaimWaived(Aggregate.Event):
        TOPIC = "grants:RegionYear.ReclaimWaived/v1"
        reclaim: str
        principal: int
        interest: int
        on: datetime.date
        reason: str
        ref: str
        recorded_by: str

        def apply(self, aggregate: Any) -> None:
            aggregate.debts[self.reclaim].settlements.append(
                Settlement("waived", self.on, self.principal, self.interest, self.ref, self.reason))
            kind = "waive-interest" if self.interest else "waive"
            aggregate.refs[self.ref] = RefUse(kind, self.reclaim, self.principal or self.interest, self.on)
