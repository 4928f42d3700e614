"""Many bookings at once (what a file of the books becomes): all or nothing, and safe to repeat."""

import pytest

from ledger.books import Entry
from ledger.errors import Refused
from ledger.terms import DecisionTerms
from tests.drivers import D, kr
from tests.jamtland import setup_jamtland


def _ledger(app):
    setup_jamtland(app)
    app.decide("pm", "X", "23", DecisionTerms("Director", D(2018, 1, 2), "A", "B", "it-admin", {2018: kr(1000)}), "t")
    app.decide("pm", "Y", "23", DecisionTerms("Director", D(2018, 1, 2), "A", "C", "it-admin", {2018: kr(500)}), "t")
    return app


def entry(voucher, decision, amount, day=D(2018, 3, 1), **kw):
    return Entry(voucher, decision, day.year, amount, day, "9902", "cost", **kw)


def test_a_batch_is_booked_in_one_write_and_again_records_nothing(app):
    """Costs and a credit on two decisions are recorded together; the same batch again is all unchanged."""
    _ledger(app)
    batch = [entry("A-1", "X", kr(300)), entry("A-2", "Y", kr(200)), entry("A-3", "X", -kr(100))]
    before = app.last_position()
    booked = app.book_all("pm", "23", batch, "t")
    assert len(booked.new) == 3 and not booked.unchanged
    assert app.decision("pm", "X").spent_for(2018) == kr(200)
    assert app.last_position() == before + 6  # three bookings, three voucher registrations
    again = app.book_all("pm", "23", batch + [entry("A-4", "Y", kr(1))], "t")
    assert len(again.unchanged) == 3 and [e.voucher for e in again.new] == ["A-4"]


def test_one_bad_entry_refuses_the_batch_and_names_every_offender(app):
    """Over the amount, a credit below zero, another region's decision, an unknown one: nothing is recorded."""
    _ledger(app)
    app.decide("pm", "Z", "23", DecisionTerms("Director", D(2018, 1, 2), "A", "D", "it-admin", {2018: kr(10)}), "t")
    before = app.last_position()
    batch = [entry("B-1", "X", kr(300)), entry("B-2", "Y", kr(501)), entry("B-3", "Z", -kr(1)),
             entry("B-4", "nope", kr(1)), entry("B-5", "X", kr(1), problem="no decision maps object 4711"),
             entry("B-1", "X", kr(300))]
    with pytest.raises(Refused) as refused:
        app.book_all("pm", "23", batch, "t")
    lines = refused.value.details
    assert [line.split()[0] for line in lines] == ["B-2", "B-3", "B-4", "B-5", "B-1"]
    assert "below zero" in lines[1] and "unknown decision" in lines[2] and "4711" in lines[3] and "twice" in lines[4]
    assert "5 of 6 bookings" in str(refused.value)
    assert app.last_position() == before


def test_a_batch_for_another_region_or_a_closed_year_is_refused(app):
    """Decisions of another region, or a closed year, refuse the batch; a dry run writes nothing."""
    _ledger(app)
    with pytest.raises(Refused, match="1 of 1"):
        app.book_all("pm", "24", [entry("C-1", "X", kr(1))], "t")
    assert len(app.book_all("pm", "23", [entry("C-1", "X", kr(1))], "t", record=False).new) == 1
    assert "C-1" not in app.decision("pm", "X").bookings
    app.close_year("pm", "23", 2018, D(2019, 3, 1), "t")
    with pytest.raises(Refused) as refused:
        app.book_all("pm", "23", [entry("C-1", "X", kr(1))], "t")
    assert "closed" in refused.value.details[0]


def test_each_region_numbers_its_own_vouchers(app):
    """Two regions may book the same voucher id; reversing it then needs the region, and one region
    still cannot book an id twice."""
    _ledger(app)
    app.allocate("pm", 2018, "stimulus", {"24": kr(5000)}, "entered", "t")
    app.authorise("pm", "24", "Boss", "hsd", D(2016, 1, 1), None, "t")
    app.decide("pm", "W", "24", DecisionTerms("Boss", D(2018, 1, 2), "A", "B", "it-admin", {2018: kr(1000)}), "t")
    app.book_all("pm", "23", [entry("2018-A-1-1", "X", kr(10))], "t")
    app.book_all("pm", "24", [entry("2018-A-1-1", "W", kr(20))], "t")
    with pytest.raises(Refused, match="several regions"):
        app.reverse("pm", "2018-A-1-1", D(2018, 5, 1), "wrong", "t")
    assert app.reverse("pm", "2018-A-1-1", D(2018, 5, 1), "wrong", "t", region="24")
    assert app.decision("pm", "W").spent_for(2018) == kr(0) and app.decision("pm", "X").spent_for(2018) == kr(10)
    with pytest.raises(Refused, match="already booked on decision X"):
        app.spend("pm", "Y", 2018, kr(1), D(2018, 3, 1), "", "2018-A-1-1", "", "t")
