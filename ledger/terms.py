"""The grant's terms as values: a year's agreement (its pots, earmarks, report condition)
and an authorisation to decide (who, for which region, from when until when).

Frozen attrs classes the Grant aggregate keeps and the read side shows; a new term is a
field here and its argument in the event that records it.
"""

from __future__ import annotations

import datetime

import attrs

from ledger.values import Amount, total


@attrs.frozen
class Agreement:
    """One year's agreement (överenskommelse) between the state and SKL."""

    year: int
    signed_on: datetime.date
    pots: dict[str, int]  # pot name -> öre, in agreement order
    earmarks: dict[str, str]  # pot -> purpose
    report_due: datetime.date
    payer: str
    report_to: str
    population_date: datetime.date | None
    ref: str

    @property
    def total(self) -> Amount:
        return total(Amount(v) for v in self.pots.values())

    def pot_amount(self, pot: str) -> Amount:
        return Amount(self.pots[pot])


def same_person(a: str, b: str) -> bool:
    """Names match whatever their case and spacing ("anna  berg " is "Anna Berg")."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@attrs.frozen
class Authorisation:
    """A person allowed to take decisions that commit the grant for one region.

    ``recorded_on`` is the day it was recorded (see :mod:`ledger.clock`); ``ended_from``
    the first day of a later deauthorisation. Neither is part of its identity.
    """

    region: str
    person: str
    role: str
    valid_from: datetime.date | None
    valid_until: datetime.date | None
    recorded_on: datetime.date | None = attrs.field(default=None, eq=False)
    ended_from: datetime.date | None = attrs.field(default=None, eq=False)

    @property
    def until(self) -> datetime.date | None:
        """The last day it covers: the earlier of --until and the day before a deauthorisation."""
        if self.ended_from is None:
            return self.valid_until
        last = self.ended_from - datetime.timedelta(days=1)
        return last if self.valid_until is None else min(last, self.valid_until)

    def is_of(self, person: str) -> bool:
        return same_person(self.person, person)

    def covers(self, person: str, on: datetime.date) -> bool:
        until = self.until
        return (
            self.is_of(person)
            and (self.valid_from is None or self.valid_from <= on)
            and (until is None or on <= until)
        )

    def reaches(self, day: datetime.date) -> bool:
        """Whether it covers any day from ``day`` on (a deauthorisation from then changes it)."""
        until = self.until
        return until is None or until >= day

    def dates(self) -> str:
        """"from 2016-01-01 until 2018-12-31" (until its effective end), "from 2016-01-01"..."""
        until = self.until
        parts = ([f"from {self.valid_from.isoformat()}"] if self.valid_from else []) + \
                ([f"until {until.isoformat()}"] if until else [])
        return " ".join(parts) or "without end dates"
