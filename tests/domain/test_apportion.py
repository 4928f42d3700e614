"""Allocation by population: the largest remainder method to the whole krona."""

import csv
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.apportion import apportion
from ledger.errors import Malformed
from ledger.values import Amount, Region

CODES = [r.code for r in Region.all()]


@given(
    st.integers(min_value=0, max_value=10**10),
    st.dictionaries(st.sampled_from(CODES), st.integers(min_value=0, max_value=3_000_000),
                    min_size=1).filter(lambda d: sum(d.values()) > 0),
)
def test_shares_sum_exactly_and_stay_within_a_krona_of_the_quota(kronor, populations):
    """Shares always sum to the amount and each is less than one krona from its exact quota."""
    shares = apportion(Amount.kronor(kronor), populations)
    assert sum(s.ore for s in shares.values()) == kronor * 100
    people = sum(populations.values())
    for code, share in shares.items():
        quota = Fraction(kronor * populations[code], people)
        assert share.ore % 100 == 0
        assert abs(Fraction(share.ore, 100) - quota) < 1


def test_reproduces_the_published_2016_table():
    """Apportioning the billion over the published shares gives the published table back."""
    path = Path(__file__).parent.parent.parent / "commands" / "data" / "allocation-2016.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    table = {r["region"]: int(r["amount"]) for r in rows}
    shares = apportion(Amount.kronor(1_000_000_000), table)
    assert {c: s.ore // 100 for c, s in shares.items()} == table


def test_hand_worked_example_with_ties():
    """10 kr over populations 1,1,1 gives 4,3,3: the tie goes to the lower county code."""
    assert apportion(Amount.kronor(10), {"03": 1, "01": 1, "05": 1}) == {
        "01": Amount.kronor(4), "03": Amount.kronor(3), "05": Amount.kronor(3)}


def test_tie_goes_to_larger_population_first():
    """Equal remainders: the larger population wins before the lower code."""
    # 5 kr over 2:2:6 -> quotas 1, 1, 3 exactly; 7 kr over 1:1:2 -> 1.75,1.75,3.5
    shares = apportion(Amount.kronor(7), {"01": 1, "03": 1, "05": 2})
    assert shares == {"01": Amount.kronor(2), "03": Amount.kronor(2), "05": Amount.kronor(3)}
    shares = apportion(Amount.kronor(1), {"01": 1, "25": 2, "03": 1, "24": 2})
    assert shares == {"01": Amount.kronor(0), "03": Amount.kronor(0),
                      "24": Amount.kronor(1), "25": Amount.kronor(0)}


def test_hamilton_differs_from_plain_rounding():
    """Where rounding each quota would overshoot, the largest remainder stays exact."""
    shares = apportion(Amount.kronor(100), {"01": 1, "03": 1, "04": 1})
    assert sorted(s.ore // 100 for s in shares.values()) == [33, 33, 34]
    assert shares["01"] == Amount.kronor(34)


@pytest.mark.parametrize("amount, populations", [
    (Amount(150), {"01": 1}),
    (Amount.kronor(10), {}),
    (Amount.kronor(10), {"01": 0}),
    (Amount.kronor(10), {"01": -1, "03": 5}),
])
def test_refuses_what_cannot_be_apportioned(amount, populations):
    """Öre, no regions, no people or negative populations are malformed."""
    with pytest.raises(Malformed):
        apportion(amount, populations)
