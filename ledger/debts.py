"""A region's debt to the state: a reclaim (återkrav), what settles it, and its interest.

Values only, no events: the RegionYear keeps one :class:`Debt` per reclaim decision
(:mod:`ledger.reclaims` records the facts). A debt's principal is the reclaimed amount;
repayments settle it principal first and then its interest, waivers (eftergift) forgive
either. Interest runs, when a rate is given, from one month after the reclaim decision
(or from its due day) on the principal still owed, day by day at actual days / 365 and
the rate in force that day (a rate changes from the day it is recorded to apply from),
summed exactly and rounded to the öre (half up) once, as of the day asked.

The figures hold to the öre: owed + repaid + waived = reclaimed (principal), always.
"""

from __future__ import annotations

import calendar
import datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import attrs

from ledger.errors import Malformed

GROUNDS = ("overpaid", "unused", "not-for-purpose", "no-report", "conditions-broken")
DAYS_A_YEAR = 365


def one_month_after(day: datetime.date) -> datetime.date:
    """The same day of the next month, or that month's last day (31 January -> 28/29 February)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_rate(text: str) -> str:
    """A yearly interest rate in percent ("4.5", "4,25 %") as its canonical text ("4.5")."""
    raw = str(text).strip().removesuffix("%").strip().replace(",", ".")
    try:
        rate = Decimal(raw)
    except InvalidOperation:
        raise Malformed(f"an interest rate is a percentage such as 4.5, not {text!r}") from None
    if not raw.replace(".", "", 1).isdigit() or not raw.isascii():
        raise Malformed(f"an interest rate is a percentage such as 4.5, not {text!r}")
    if rate > 100 or rate.as_tuple().exponent < -4:
        raise Malformed(f"an interest rate is 0-100 percent with at most four decimals, not {text!r}")
    return format(rate.normalize(), "f")


def round_ore(value: Fraction) -> int:
    """Round half up to the öre (values here are never negative)."""
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


@attrs.frozen
class Settlement:
    """What settled part of a debt on a day: a repayment or a waiver, split between principal and interest."""

    kind: str  # "repaid" or "waived"
    on: datetime.date
    principal: int
    interest: int
    ref: str
    reason: str = ""


@attrs.define
class Debt:
    """One reclaim decision of the paying authority and everything that settled it since."""

    ref: str
    ground: str
    decided_on: datetime.date
    amount: int  # the principal reclaimed, in öre
    due: datetime.date | None
    rates: list[tuple[datetime.date, str]] = attrs.field(factory=list)  # (applies from, percent), by day
    settlements: list[Settlement] = attrs.field(factory=list)  # in the order of their days

    @property
    def interest_from(self) -> datetime.date:
        return self.due or one_month_after(self.decided_on)

    def _sum(self, kind: str, part: str) -> int:
        return sum(getattr(s, part) for s in self.settlements if s.kind == kind)

    @property
    def repaid(self) -> int:
        """Principal repaid."""
        return self._sum("repaid", "principal")

    @property
    def waived(self) -> int:
        """Principal waived."""
        return self._sum("waived", "principal")

    @property
    def interest_repaid(self) -> int:
        return self._sum("repaid", "interest")

    @property
    def interest_waived(self) -> int:
        return self._sum("waived", "interest")

    @property
    def owed(self) -> int:
        """Principal neither repaid nor waived."""
        return self.amount - self.repaid - self.waived

    def settled_by(self, on: datetime.date) -> list[Settlement]:
        return [s for s in self.settlements if s.on <= on]

    def owed_on(self, on: datetime.date) -> int:
        """Principal owed on a day: reclaimed by then and not settled by then (0 before the decision)."""
        if on < self.decided_on:
            return 0
        return self.amount - sum(s.principal for s in self.settled_by(on))

    @property
    def last_day(self) -> datetime.date:
        """The day of the last settlement (or the decision): a new one is not dated before it."""
        return self.settlements[-1].on if self.settlements else self.decided_on

    def rate_on(self, day: datetime.date) -> Fraction:
        """The yearly rate in force on a day, as a fraction (4.5 % -> 9/200); 0 before any."""
        rate = Fraction(0)
        for start, percent in self.rates:
            if start <= day:
                rate = Fraction(Decimal(percent)) / 100
        return rate

    def accrued(self, on: datetime.date) -> Fraction:
        """Interest accrued on the principal owed, from :attr:`interest_from` up to (not
        including) ``on``, exactly."""
        start = self.interest_from
        if on <= start or not self.rates:
            return Fraction(0)
        cuts = {start, on} | {d for d, _ in self.rates if start < d < on} | \
            {s.on for s in self.settlements if start < s.on < on}
        days = sorted(cuts)
        owed_from = self.amount
        i, settled = 0, self.settlements
        total = Fraction(0)
        for a, b in zip(days, days[1:]):
            while i < len(settled) and settled[i].on <= a:  # settled that day: not charged that day
                owed_from -= settled[i].principal
                i += 1
            if owed_from:
                total += owed_from * self.rate_on(a) * (b - a).days / DAYS_A_YEAR
        return total

    def interest(self, on: datetime.date) -> int:
        """Interest accrued by ``on`` (rounded to the öre) and not repaid or waived by then."""
        settled = sum(s.interest for s in self.settled_by(on))
        return max(0, round_ore(self.accrued(on)) - settled)

    def split(self, amount: int) -> tuple[int, int]:
        """A repayment's (principal, interest): principal first, the rest interest."""
        principal = min(amount, self.owed)
        return principal, amount - principal
