"""Decision: schedule, amendments, revocation and bookings, each rule at its boundary."""

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.decision import AMENDED, LIVE, REVOKED, Decision
from ledger.errors import Duplicate, Insufficient, Malformed, NotFound, Refused
from ledger import states
from ledger.values import Amount
from ledger.terms import DecisionTerms

D = datetime.date(2017, 5, 1)
TODAY = datetime.date(2019, 12, 31)  # the recording day the rules compare with
ORE = Amount(1)
kr = Amount.kronor


def decision(schedule=None) -> Decision:
    return Decision.decide("g", "D1", "23", DecisionTerms("Director", D, "Area", "Activity", "it-admin",
                           schedule or {2017: kr(100), 2018: kr(200)}, "", ""), "t", today=TODAY)


def test_booking_up_to_the_years_amount_and_not_one_ore_more():
    """Bookings for a year reach the decision's amount for it, never beyond."""
    d = decision()
    with pytest.raises(Insufficient, match="remaining at -0.01"):
        d.spend("V1", 2018, kr(200) + ORE, datetime.date(2018, 6, 1), "9902", "", "t", today=TODAY)
    assert d.spend("V1", 2018, kr(200), datetime.date(2018, 6, 1), "9902", "", "t", today=TODAY)
    assert d.remaining_for(2018) == Amount(0)
    with pytest.raises(Insufficient):
        d.spend("V2", 2018, ORE, datetime.date(2018, 6, 1), "9902", "", "t", today=TODAY)


def test_booking_only_in_years_of_the_schedule():
    """A booking for a year the decision does not fund is refused."""
    with pytest.raises(Refused, match="grants nothing for 2016"):
        decision().spend("V1", 2016, ORE, datetime.date(2016, 6, 1), "9902", "", "t", today=TODAY)


def test_same_voucher_same_content_is_a_noop_other_content_refused():
    """A retried booking records nothing; the voucher with other content is refused."""
    d = decision()
    assert d.spend("V1", 2017, kr(10), datetime.date(2017, 6, 1), "9902", "x", "t", today=TODAY)
    assert not d.spend("V1", 2017, kr(10), datetime.date(2017, 6, 1), "9902", "x", "t", today=TODAY)
    with pytest.raises(Duplicate):
        d.spend("V1", 2017, kr(11), datetime.date(2017, 6, 1), "9902", "x", "t", today=TODAY)
    assert d.spent_for(2017) == kr(10)


def test_reversal_gives_the_money_back_once():
    """A reversal lowers spent; reversing again with other content is refused."""
    d = decision()
    d.spend("V1", 2017, kr(100), datetime.date(2017, 6, 1), "9902", "", "t", today=TODAY)
    assert d.reverse("V1", D, "wrong object", "t", today=TODAY)
    assert d.spent_for(2017) == Amount(0)
    assert not d.reverse("V1", D, "wrong object", "t", today=TODAY)
    with pytest.raises(Refused):
        d.reverse("V1", D, "other reason", "t", today=TODAY)
    with pytest.raises(NotFound):
        d.reverse("V9", D, "x", "t", today=TODAY)


def test_amendment_cannot_go_below_what_is_booked():
    """A year's new amount may equal what is booked on it, not one öre less."""
    d = decision()
    d.spend("V1", 2018, kr(150), datetime.date(2018, 6, 1), "9902", "", "t", today=TODAY)
    with pytest.raises(Insufficient, match="already booked"):
        d.amend({2017: kr(100), 2018: kr(150) - ORE}, "Director", D, "cut", "t", today=TODAY)
    d.amend({2018: kr(150)}, "Director", D, "cut", "t", today=TODAY)
    assert (d.status, d.granted_for(2017), d.granted_for(2018)) == (AMENDED, Amount(0), kr(150))


def test_revocation_keeps_only_what_was_spent():
    """Once revoked, a decision commits only its bookings, and takes no more."""
    d = decision()
    d.spend("V1", 2017, kr(30), datetime.date(2017, 6, 1), "9902", "", "t", today=TODAY)
    d.revoke("Director", D, "stopped", "t", today=TODAY)
    assert d.status == REVOKED
    assert (d.committed_for(2017), d.committed_for(2018)) == (kr(30), Amount(0))
    with pytest.raises(Refused, match="revoked"):
        d.spend("V2", 2017, ORE, datetime.date(2017, 6, 1), "9902", "", "t", today=TODAY)
    with pytest.raises(Refused):
        d.amend({2017: kr(30)}, "Director", D, "x", "t", today=TODAY)
    with pytest.raises(Refused, match=r"already revoked, on 2017-05-01 by Director \(stopped\)"):
        d.revoke("Director", D, "again", "t", today=TODAY)
    d.reverse("V1", D, "wrong", "t", today=TODAY)
    assert d.committed_for(2017) == Amount(0)


def test_revoking_again_for_the_same_reason_records_nothing():
    """A revoked decision revoked again for its reason returns False with no event, also once
    kept and loaded by the read models; a blank reason stays malformed."""
    d = decision()
    assert d.revoke("Director", D, "stopped", "t", today=TODAY) is True
    d.collect_events()
    assert d.revoke("Someone", D + datetime.timedelta(days=3), "stopped", "t", today=TODAY) is False
    assert not d.collect_events()
    with pytest.raises(Malformed):
        d.revoke("Director", D, " ", "t", today=TODAY)
    loaded = states.load(states.dump(d), "Decision")
    assert loaded.revocation == ("Director", D, "stopped")
    assert loaded.revoke("Director", D, "stopped", "t", today=TODAY) is False


def test_schedules_must_make_sense():
    """No empty, all-zero or negative schedules; area and activity are required."""
    for schedule in ({}, {2018: Amount(0)}, {2018: Amount(-1)}):
        with pytest.raises(Malformed):
            Decision.decide("g", "D", "23", DecisionTerms("x", D, "A", "B", "p", schedule, "", ""), "t", today=TODAY)
    with pytest.raises(Malformed):
        Decision.decide("g", "D", "23", DecisionTerms("x", D, " ", "B", "p", {2018: ORE}, "", ""), "t", today=TODAY)


def test_identical_retry_is_recognised():
    """The original decision's content is what a retry is compared with, even after amendment."""
    d = decision()
    same = DecisionTerms("Director", D, "Area", "Activity", "it-admin", {2017: kr(100), 2018: kr(200)}, "", "")
    assert d.same_decision("23", same)
    d.amend({2018: kr(200)}, "Director", D, "x", "t", today=TODAY)
    assert d.same_decision("23", same)
    assert d.status != LIVE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([2017, 2018]), st.integers(1, 5_000),
                          st.sampled_from(["9902", "1234"]), st.booleans()), max_size=25))
def test_a_stored_state_loads_as_the_same_decision(bookings):
    """A decision kept as the read models keep it (typed JSON, bookings packed) and loaded again
    has the same bookings, figures and off-object bookings, and keeps working under its rules."""
    d = decision({2017: kr(100_000), 2018: kr(100_000)})
    for n, (year, ore, obj, reverse) in enumerate(bookings):
        d.spend(f"V{n}", year, Amount(ore), datetime.date(year, 6, 1) + datetime.timedelta(days=n), obj, f"t{n}",
                "t", today=TODAY)
        if reverse:
            d.reverse(f"V{n}", datetime.date(year, 6, 2) + datetime.timedelta(days=n), "wrong", "t", today=TODAY)
    loaded = states.load(states.dump(d), "Decision")
    for year in (2017, 2018):
        assert loaded.live_bookings_off(year, "9902") == d.live_bookings_off(year, "9902") == [
            b for b in d.bookings.values() if b.year == year and not b.is_reversed and b.object != "9902"]
        assert loaded.spent_for(year) == d.spent_for(year)
    assert loaded.bookings == d.bookings
    loaded.spend("NEW", 2018, ORE, datetime.date(2018, 6, 1), "9902", "", "t", today=TODAY)
    assert loaded.spent_for(2018) == d.spent_for(2018) + ORE
    again = states.load(states.dump(states.load(states.dump(d), "Decision")), "Decision")
    assert again.live_bookings_off(2017, "9902") == d.live_bookings_off(2017, "9902")


def test_a_kept_decision_takes_later_bookings_without_unpacking():
    """Bookings, a credit, a retry and a reversal on a decision loaded from its kept state leave
    its bookings packed and the kept list (which readers may share) as it was, and give what
    the same commands give on the decision itself."""
    d = decision()
    d.spend("V1", 2018, kr(50), datetime.date(2018, 2, 1), "9902", "", "t", today=TODAY)
    d.collect_events()
    kept = states.load(states.dump(d), "Decision")
    shared, before = kept._packed, list(kept._packed)
    steps = [("spend", "V2", kr(30)), ("spend", "V3", -kr(10)), ("spend", "V2", kr(30)), ("reverse", "V1", None)]
    for target in (d, kept):
        for kind, voucher, amount in steps:
            if kind == "spend":
                target.spend(voucher, 2018, amount, datetime.date(2018, 3, 1), "9902", "", "t", today=TODAY)
            else:
                target.reverse(voucher, datetime.date(2018, 4, 1), "wrong", "t", today=TODAY)
    assert kept._bookings is None and kept._packed is not shared and shared == before
    assert kept.spent_by_year == d.spent_by_year and kept.spent_for(2018) == kr(20)
    with pytest.raises(Duplicate):
        kept.spend("V2", 2018, kr(31), datetime.date(2018, 3, 1), "9902", "", "t", today=TODAY)
    with pytest.raises(Refused, match="already reversed"):
        kept.reverse("V1", datetime.date(2018, 5, 1), "again", "t", today=TODAY)
    assert kept.bookings == d.bookings
