"""Credits: a negative booking lowers what a decision has spent in a year, never below zero."""

import datetime

import pytest
from hypothesis import given, settings, strategies as st

from ledger.decision import Decision
from ledger.errors import Insufficient, Malformed, Refused
from ledger.terms import DecisionTerms
from ledger.values import Amount

D = datetime.date
TODAY = D(2026, 1, 1)


def kr(n: int) -> Amount:
    return Amount.kronor(n)


def decision() -> Decision:
    return Decision.decide("g", "D1", "23", DecisionTerms("Director", D(2018, 1, 1), "Area", "Act", "it-admin",
                                                         {2018: kr(1000)}), "t", today=TODAY)


def book(d: Decision, voucher: str, amount: Amount, on: D = D(2018, 3, 1)) -> bool:
    return d.spend(voucher, 2018, amount, on, "9902", "", "t", today=TODAY)


def test_a_credit_lowers_spent_and_raises_remaining():
    """A credit of 300 after a cost of 1 000 leaves 700 spent and 300 remaining."""
    d = decision()
    book(d, "V1", kr(1000))
    assert book(d, "C1", -kr(300))
    assert d.spent_for(2018) == kr(700) and d.remaining_for(2018) == kr(300)
    assert [type(e).__name__ for e in d.collect_events()][-1] == "Credited"


def test_a_credit_never_takes_spent_below_zero():
    """A credit larger than what is spent is refused, naming the figures."""
    d = decision()
    book(d, "V1", kr(100))
    with pytest.raises(Insufficient, match="below zero"):
        book(d, "C1", -kr(101))
    assert d.spent_for(2018) == kr(100)


def test_a_credit_retried_records_nothing_and_other_content_is_refused():
    """The same credit again is unchanged; the same voucher as a cost is another booking."""
    d = decision()
    book(d, "V1", kr(100))
    assert book(d, "C1", -kr(40))
    assert book(d, "C1", -kr(40)) is False
    with pytest.raises(Refused):
        book(d, "C1", kr(40))


def test_a_zero_booking_is_malformed():
    """Neither a cost nor a credit: zero is refused as malformed."""
    with pytest.raises(Malformed):
        book(decision(), "V0", Amount(0))


def test_reversals_keep_spent_between_zero_and_the_years_amount():
    """Reversing a cost that a credit offsets, or a credit when the year is full, is refused."""
    d = decision()
    book(d, "V1", kr(100))
    book(d, "C1", -kr(100))
    with pytest.raises(Insufficient, match="below zero"):
        d.reverse("V1", D(2018, 4, 1), "wrong", "t", today=TODAY)
    book(d, "V2", kr(1000))
    with pytest.raises(Insufficient, match="remaining"):
        d.reverse("C1", D(2018, 4, 1), "wrong", "t", today=TODAY)
    assert d.spent_for(2018) == kr(1000)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-600, 600).filter(bool), max_size=30))
def test_spent_stays_the_sum_of_live_bookings_within_zero_and_the_amount(amounts):
    """Whatever costs and credits are tried, spent is the sum of those accepted and stays in [0, amount]."""
    d = decision()
    accepted = 0
    for n, a in enumerate(amounts):
        try:
            book(d, f"V{n}", kr(a))
            accepted += a
        except Insufficient:
            pass
        assert 0 <= d.spent_for(2018).ore <= kr(1000).ore
    assert d.spent_for(2018) == kr(accepted)
