"""RegionYear: the balance rules, each shown refusing and accepting at its boundary."""

import datetime
import itertools

import pytest

from ledger.region_year import RegionYear
from ledger.errors import Closed, Duplicate, Insufficient, Malformed, NotFound, Refused, Shortfall
from ledger.values import Amount

D = datetime.date(2018, 3, 1)
ORE = Amount(1)
_refs = itertools.count(1)


def ref() -> str:
    """A ref not used before: each money fact of these tests is a new one."""
    return f"R-{next(_refs)}"


def year(allocated_kr: int | None = 1000, frame_kr: int | None = None) -> RegionYear:
    ry = RegionYear(grant_id="g", region="23", year=2018, recorded_by="t")
    if frame_kr is not None:
        ry.set_frame(Amount.kronor(frame_kr), D, "t")
    if allocated_kr is not None:
        ry.allocate("stimulus", Amount.kronor(allocated_kr), "entered", "t")
    return ry


def test_commitment_up_to_available_and_not_one_ore_more():
    """A commitment may take available to exactly zero, not one öre below."""
    ry = year()
    with pytest.raises(Insufficient, match="would leave 2018 available at -0,01"):
        ry.set_commitment("d1", "it", Amount.kronor(1000) + ORE, D, "t")
    assert ry.set_commitment("d1", "it", Amount.kronor(1000), D, "t")
    assert ry.available == Amount(0)


def test_reservation_boundary():
    """A reservation may use all of available, not one öre more."""
    ry = year()
    ry.set_commitment("d1", "it", Amount.kronor(400), D, "t")
    with pytest.raises(Insufficient):
        ry.reserve("p", Amount.kronor(600) + ORE, D, ref(), "t")
    ry.reserve("p", Amount.kronor(600), D, ref(), "t")
    assert (ry.reserved, ry.available) == (Amount.kronor(600), Amount(0))


def test_repayment_only_of_uncommitted_money():
    """Repaying beyond available is refused; up to it, allocated falls by the amount."""
    ry = year()
    ry.set_commitment("d1", "it", Amount.kronor(700), D, "t")
    with pytest.raises(Insufficient, match="revoke or amend"):
        ry.repay("stimulus", Amount.kronor(300) + ORE, D, ref(), "t")
    ry.repay("stimulus", Amount.kronor(300), D, ref(), "t")
    assert (ry.allocated, ry.available, ry.repaid) == (Amount.kronor(700), Amount(0), Amount.kronor(300))


def test_requisition_within_allocation_per_pot():
    """Requisitions per pot reach the pot's allocation and not one öre beyond."""
    ry = year()
    ry.requisition("stimulus", Amount.kronor(600), D, ref(), "t")
    with pytest.raises(Insufficient, match="exceed the allocation by 0,01"):
        ry.requisition("stimulus", Amount.kronor(400) + ORE, D, ref(), "t")
    ry.requisition("stimulus", Amount.kronor(400), D, ref(), "t")
    assert ry.requisitioned == ry.allocated
    with pytest.raises(NotFound):
        ry.requisition("other", ORE, D, ref(), "t")


def test_repayment_after_requisition_keeps_requisitioned_within_allocated():
    """Money requisitioned then repaid no longer counts as requisitioned."""
    ry = year()
    ry.requisition("stimulus", Amount.kronor(1000), D, ref(), "t")
    ry.repay("stimulus", Amount.kronor(250), D, ref(), "t")
    assert ry.requisitioned == ry.allocated == Amount.kronor(750)


def test_frame_is_the_funds_before_allocation():
    """Before allocation, commitments are checked against the planning frame."""
    ry = year(allocated_kr=None, frame_kr=500)
    with pytest.raises(Insufficient):
        ry.set_commitment("d1", "it", Amount.kronor(500) + ORE, D, "t")
    ry.set_commitment("d1", "it", Amount.kronor(500), D, "t")
    with pytest.raises(Insufficient, match="planning frame"):
        ry.set_frame(Amount.kronor(500) - ORE, D, "t")
    ry.set_frame(Amount.kronor(500), D, "t")


def test_allocation_below_commitments_shows_a_shortfall_and_blocks_new_commitments():
    """The state may allocate less than the frame; the year then has a shortfall."""
    ry = year(allocated_kr=None, frame_kr=1000)
    ry.set_commitment("d1", "it", Amount.kronor(900), D, "t")
    ry.allocate("stimulus", Amount.kronor(800), "entered", "t")
    assert (ry.shortfall, ry.available) == (Amount.kronor(100), Amount(0))
    assert ry.funds + ry.shortfall == ry.committed + ry.reserved + ry.available
    with pytest.raises(Shortfall, match="shortfall of 100"):
        ry.set_commitment("d2", "it", ORE, D, "t")
    with pytest.raises(Shortfall):
        ry.reserve("p", ORE, D, ref(), "t")
    ry.set_commitment("d1", "it", Amount.kronor(800), D, "t")  # amending down is allowed
    assert ry.shortfall == Amount(0)
    with pytest.raises(Insufficient):
        ry.set_commitment("d2", "it", ORE, D, "t")


def test_frame_refused_once_allocated():
    """A planning frame applies only before the allocation."""
    with pytest.raises(Refused, match="already allocated"):
        year().set_frame(Amount.kronor(5), D, "t")


def test_allocation_repeat_is_a_noop_and_a_different_one_refused():
    """The same allocation again records nothing; another amount for the pot is refused."""
    ry = year()
    assert ry.allocate("stimulus", Amount.kronor(1000), "entered", "t") is False
    with pytest.raises(Duplicate):
        ry.allocate("stimulus", Amount.kronor(999), "entered", "t")
    with pytest.raises(Malformed):
        ry.allocate("other", Amount(0), "entered", "t")


def test_closed_year_accepts_nothing_new_until_reopened():
    """A closed year refuses every change; reopening needs a reason."""
    ry = year()
    ry.close(D, "t")
    for action in (
        lambda: ry.set_commitment("d1", "it", ORE, D, "t"),
        lambda: ry.reserve("p", ORE, D, ref(), "t"),
        lambda: ry.requisition("stimulus", ORE, D, ref(), "t"),
        lambda: ry.repay("stimulus", ORE, D, ref(), "t"),
        lambda: ry.allocate("x", ORE, "entered", "t"),
        lambda: ry.file_report(D, "S", [], True, True, "", "t", today=D),
    ):
        with pytest.raises(Closed):
            action()
    with pytest.raises(Malformed):
        ry.reopen(D, " ", "t")
    assert ry.reopen(D, "late invoice", "t")
    ry.set_commitment("d1", "it", ORE, D, "t")


def test_closing_a_closed_year_and_reopening_an_open_one_record_nothing():
    """The wanted state already holds: a second close, or a reopen of an open year, returns False
    and records no event; a reopen still needs a reason."""
    ry = year()
    assert ry.reopen(D, "never closed", "t") is False
    assert ry.close(D, "t") is True
    count = len(ry.collect_events())
    assert ry.close(datetime.date(2019, 1, 1), "t") is False
    assert ry.closed and not ry.collect_events()
    assert ry.reopen(D, "late invoice", "t") is True
    assert ry.reopen(D, "late invoice", "t") is False
    with pytest.raises(Malformed):
        ry.reopen(D, " ", "t")
    assert not ry.closed and len(ry.collect_events()) == 1 and count


def test_a_ref_records_once_and_names_what_it_was_used_for():
    """The same ref and content again records nothing, even in a closed year; the same ref for
    another amount or another kind of fact is refused naming its first use; a ref is required."""
    ry = year()
    assert ry.requisition("stimulus", Amount.kronor(100), D, "REK-1", "t") is True
    assert ry.requisition("stimulus", Amount.kronor(100), D, "REK-1", "t") is False
    with pytest.raises(Duplicate, match="ref 'REK-1' is already used in .* for a requisition of 100 "
                                        "from pot stimulus on 2018-03-01"):
        ry.requisition("stimulus", Amount.kronor(101), D, "REK-1", "t")
    with pytest.raises(Duplicate, match="not again for a repayment of 100 to pot stimulus"):
        ry.repay("stimulus", Amount.kronor(100), D, "REK-1", "t")
    assert ry.reserve("p", Amount.kronor(50), D, "RES-1", "t") is True
    ry.close(D, "t")
    assert ry.reserve("p", Amount.kronor(50), D, "RES-1", "t") is False
    assert (ry.requisitioned, ry.reserved) == (Amount.kronor(100), Amount.kronor(50))
    for blank in ("", "  "):
        with pytest.raises(Malformed, match="needs a --ref"):
            ry.repay("stimulus", ORE, D, blank, "t")


def test_setting_the_frame_the_year_has_records_nothing():
    """A frame equal to the one set records nothing; a frame's ref names that frame only."""
    ry = year(allocated_kr=None)
    assert ry.set_frame(Amount.kronor(500), D, "t", ref="RF-1") is True
    assert ry.set_frame(Amount.kronor(500), None, "t") is False
    assert ry.set_frame(Amount.kronor(600), D, "t") is True
    assert ry.set_frame(Amount.kronor(500), D, "t", ref="RF-1") is False  # a late retry of the first
    with pytest.raises(Duplicate, match="ref 'RF-1' is already used .* for a planning frame of 500"):
        ry.set_frame(Amount.kronor(700), D, "t", ref="RF-1")
    assert ry.frame_amount == Amount.kronor(600)


def test_report_filed_twice_identically_records_once():
    """Filing the same report again records nothing."""
    ry = year()
    assert ry.file_report(D, "Socialstyrelsen", ["it-admin"], True, True, "", "t", today=D)
    assert not ry.file_report(D, "Socialstyrelsen", ["it-admin"], True, True, "", "t", today=D)
    assert len(ry.reports) == 1


def test_amounts_must_be_positive():
    """Zero or negative reservations, repayments and requisitions are malformed."""
    ry = year()
    for action in (
        lambda: ry.reserve("p", Amount(0), D, ref(), "t"),
        lambda: ry.repay("stimulus", Amount(-1), D, ref(), "t"),
        lambda: ry.requisition("stimulus", Amount(0), D, ref(), "t"),
    ):
        with pytest.raises(Malformed):
            action()


def test_a_decision_draws_first_on_money_reserved_for_its_purpose():
    """Reserved money is used by a later decision for that purpose; the rest must be available."""
    ry = year()
    ry.reserve("nurses", Amount.kronor(600), D, ref(), "t")
    assert ry.available == Amount.kronor(400)
    with pytest.raises(Insufficient, match="beyond the 600 reserved for nurses"):
        ry.set_commitment("n1", "nurses", Amount.kronor(1000) + ORE, D, "t")
    ry.set_commitment("n1", "nurses", Amount.kronor(700), D, "t")
    assert (ry.reserved, ry.committed, ry.available) == (Amount(0), Amount.kronor(700), Amount.kronor(300))
    ry.set_commitment("n1", "nurses", Amount.kronor(100), D, "t")  # freed money becomes available
    assert (ry.reserved, ry.available) == (Amount(0), Amount.kronor(900))


def test_other_purposes_do_not_touch_the_reservation():
    """A decision for another purpose may use only what is available, not the reservation."""
    ry = year()
    ry.reserve("nurses", Amount.kronor(600), D, ref(), "t")
    with pytest.raises(Insufficient):
        ry.set_commitment("x", "it", Amount.kronor(400) + ORE, D, "t")
    ry.set_commitment("x", "it", Amount.kronor(400), D, "t")
    assert ry.reserved == Amount.kronor(600)
