"""The terms of the ledger's facts as values: a year's agreement (its pots, earmarks,
report condition), a decision's terms (who decided what, when, how much each year), an
authorisation to decide (who, for which region, from when until when), and what a yearly
report says (its content).

Frozen attrs classes that the commands build, the application passes on, the aggregates
check and keep, and the read side shows and stores. A new term of an agreement or a
decision is a field here and its argument in the event that records it (a new version of
the event: see docs/events.md); everything between carries the value whole
(:func:`stored` and :func:`from_stored` turn it into an event's fields and back, and the
read models' states encode it field by field from its types).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from ledger.errors import Malformed
from ledger.values import Amount, total

V = TypeVar("V")

# a decision's status (``Decision.status``): as recorded, changed by an amendment, revoked
LIVE, AMENDED, REVOKED = "live", "amended", "revoked"
STATUSES = (LIVE, AMENDED, REVOKED)


def _stored_value(value: Any) -> Any:
    if isinstance(value, dict):
        return [[k, _stored_value(v)] for k, v in value.items()]
    if isinstance(value, tuple):
        return list(value)
    return value.ore if isinstance(value, Amount) else value


def stored(terms: Any) -> dict[str, Any]:
    """A value's identifying fields as its event stores them: maps as [key, value] pairs,
    amounts in öre, tuples as lists (a field outside its identity, ``eq=False``, is not stored
    with it)."""
    return {f.name: _stored_value(getattr(terms, f.name)) for f in attrs.fields(type(terms)) if f.eq}


def stored_amendable(terms: Agreement) -> dict[str, Any]:
    """An agreement's amendable terms as an amendment stores them."""
    return {name: _stored_value(value) for name, value in terms.amendable().items()}


def from_stored(cls: type[V], fields: Mapping[str, Any] | Any) -> V:
    """A value from the fields an event stored (a mapping, or an object such as the event); a
    field an older version of the event did not have takes its default."""
    found = fields if isinstance(fields, Mapping) else vars(fields)
    return cls(**{f.name: found[f.name] for f in attrs.fields(cls)  # type: ignore[call-arg]
                  if f.name in found or f.default is attrs.NOTHING})


def _pots(value: Any) -> dict[str, int]:
    """Pots in agreement order, from a map or [name, öre] pairs (where a name may not repeat)."""
    pairs = list(value.items() if isinstance(value, dict) else value)
    names = [str(n) for n, _ in pairs]
    if len(set(names)) != len(names):
        raise Malformed(f"pot names repeat: {', '.join(names)}")
    return {str(n): int(a) for n, a in pairs}


def _earmarks(value: Any) -> dict[str, str]:
    """Earmarks, from a map or [pot, purpose] pairs (a pot has one purpose at most)."""
    pairs = list(value.items() if isinstance(value, dict) else value)
    if len({p for p, _ in pairs}) != len(pairs):
        raise Malformed("a pot can be earmarked to one purpose only")
    return {str(p): str(u) for p, u in pairs}


def _schedule(value: Any) -> dict[int, Amount]:
    """A schedule in year order, from a map or stored [year, öre] pairs."""
    pairs = value.items() if isinstance(value, dict) else value
    return {int(y): a if isinstance(a, Amount) else Amount(int(a)) for y, a in sorted(pairs)}


# What a report may be asked to hold (`agreement sign --report-asks`), in this order.
REPORT_CONTENT = ("measures", "involvement", "continuation", "responsible")
CARRY_OVER = ("allowed", "not-allowed")


def _report_asks(value: Any) -> tuple[str, ...]:
    asked = set(value)
    unknown = sorted(asked - set(REPORT_CONTENT))
    if unknown:
        raise Malformed(f"a report cannot be asked for {', '.join(unknown)} "
                        f"(it can be asked for {', '.join(REPORT_CONTENT)})")
    return tuple(c for c in REPORT_CONTENT if c in asked)


def _carry_over(value: Any) -> str:
    if value not in ("",) + CARRY_OVER:
        raise Malformed(f"--carry-over is allowed or not-allowed, not {value!r}")
    return value


@attrs.frozen
class Agreement:
    """One year's agreement (överenskommelse) between the state and SKL.

    Its terms (each optional): money not requisitioned by ``requisition_by`` lapses; money
    unused by the year's end must be repaid by ``repay_unused_by``; ``carry_over`` says
    whether unused money may be used the next year ("" when the agreement is silent);
    ``report_asks`` is what the yearly report must hold (see :data:`REPORT_CONTENT`). These
    and the report's due date can change by an amendment (``amended_on``, the day the
    last one was signed; not part of the terms' identity).
    """

    year: int
    signed_on: datetime.date
    pots: dict[str, int] = attrs.field(converter=_pots)  # pot name -> öre, in agreement order
    earmarks: dict[str, str] = attrs.field(converter=_earmarks)  # pot -> purpose
    report_due: datetime.date
    payer: str
    report_to: str
    population_date: datetime.date | None
    ref: str
    requisition_by: datetime.date | None = None
    repay_unused_by: datetime.date | None = None
    carry_over: str = attrs.field(default="", converter=_carry_over)
    report_asks: tuple[str, ...] = attrs.field(default=(), converter=_report_asks)
    amended_on: datetime.date | None = attrs.field(default=None, eq=False)

    # the terms an amendment may change; the rest (year, pots, earmarks, payer...) never change
    AMENDABLE = ("report_due", "requisition_by", "repay_unused_by", "carry_over", "report_asks")

    @property
    def has_new_terms(self) -> bool:
        """Whether it states a term the first version of its event could not hold."""
        return bool(self.requisition_by or self.repay_unused_by or self.carry_over or self.report_asks)

    def amendable(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.AMENDABLE}

    def same_but_amendable(self, other: Agreement) -> bool:
        """Whether ``other`` says the same but (perhaps) for the terms an amendment may change."""
        keep = {**self.amendable(), "signed_on": self.signed_on}
        return attrs.evolve(other, **keep) == self

    @property
    def total(self) -> Amount:
        return total(Amount(v) for v in self.pots.values())

    def pot_amount(self, pot: str) -> Amount:
        return Amount(self.pots[pot])


def _trimmed(value: Any) -> str:
    return str(value).strip()


def _measures(value: Any) -> dict[str, str]:
    """Measures per purpose, from a map or [purpose, text] pairs: each purpose once, its text
    trimmed; a purpose whose text is empty is not stated (left out)."""
    pairs = list(value.items() if isinstance(value, dict) else value)
    named = [str(p) for p, _ in pairs]
    twice = sorted({p for p in named if named.count(p) > 1})
    if twice:
        raise Malformed(f"the report's measures for {', '.join(twice)} are given more than once")
    return {str(p): str(t).strip() for p, t in pairs if str(t).strip()}


@attrs.frozen
class ReportContent:
    """What a yearly report says, beyond the purposes it covers: per purpose the measures
    taken, how patient-near units and employee representatives were involved, how the work
    continues after the grant, and who is responsible for the follow-up. Every text is
    trimmed; an empty one is not stated. The agreement's ``report_asks`` says which of these
    a report must hold (see :data:`REPORT_CONTENT`)."""

    measures: dict[str, str] = attrs.field(factory=dict, converter=_measures)  # purpose -> text
    patient_units_how: str = attrs.field(default="", converter=_trimmed)
    employee_reps_how: str = attrs.field(default="", converter=_trimmed)
    continuation: str = attrs.field(default="", converter=_trimmed)
    responsible: str = attrs.field(default="", converter=_trimmed)

    @property
    def is_empty(self) -> bool:
        """Whether it states nothing (a report without content is recorded as it always was)."""
        return self == ReportContent()


@attrs.frozen
class DecisionTerms:
    """What a decision (beslut) says: who took it and on which day, for which business
    area, activity and purpose, how much each year, how the work continues, its reference.

    Its own shape is checked here; the rules that need the ledger (authority, the
    purpose's pot, the dating) belong to the aggregates and :mod:`ledger.rules`.
    """

    decided_by: str
    decided_on: datetime.date
    area: str
    activity: str
    purpose: str
    schedule: dict[int, Amount] = attrs.field(converter=_schedule)  # year -> amount, in year order
    continuation: str = ""
    ref: str = ""

    def check(self) -> None:
        check_schedule(self.schedule)
        if not sum(a.ore for a in self.schedule.values()):
            raise Malformed("a decision must grant more than zero (--amount YEAR=AMOUNT)")
        if not self.area.strip() or not self.activity.strip():
            raise Malformed("a decision needs its business area (--area) and activity (--activity)")


def check_schedule(schedule: dict[int, Amount]) -> None:
    """A schedule (of a decision or an amendment) names at least one year and no negative amount."""
    if not schedule:
        raise Malformed("a schedule needs at least one --amount YEAR=AMOUNT")
    for year, amount in schedule.items():
        if amount.is_negative:
            raise Malformed(f"the amount for {year} cannot be negative ({amount})")


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
