"""Authority that can end and is visible, and the date rules: each rule at its boundary."""

from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.clock import LATE_AFTER_DAYS, recorded_day
from ledger.decision import Decision
from ledger.errors import NotFound, Refused, Unauthorised
from ledger.grant import Grant
from ledger.values import Amount
from projections.compliance import compliance_rows
from projections.fold import entries_of, fold
from projections.verify import HistoryError, check_history
from tests.drivers import D, kr
from tests.jamtland import setup_jamtland
from tests.jamtland import G, jamtland
from ledger.terms import DecisionTerms

UTC = datetime.timezone.utc


def at(day: datetime.date):
    """A clock standing at noon UTC on a day."""
    return lambda: datetime.datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def grant() -> Grant:
    g = Grant.define("g", "G", 2016, 2018, [["p", "P"]], "3", "9902", "t")
    g.authorise("23", "Anna Berg", "hsd", D(2016, 1, 1), D(2018, 12, 31), "t")
    return g


# --------------------------------------------------------------------------- deauthorisation


def test_deauthorisation_ends_authority_from_its_day():
    """From the deauthorisation's day on the person may not decide; the day before they still may."""
    g = grant()
    assert g.deauthorise("23", "anna  berg ", D(2018, 1, 1), "t")
    assert g.check_decider("23", "Anna Berg", D(2017, 12, 31)) == "Anna Berg"
    with pytest.raises(Unauthorised, match=r"hsd from 2016-01-01 until 2017-12-31"):
        g.check_decider("23", "Anna Berg", D(2018, 1, 1))


def test_deauthorisation_again_or_later_records_nothing_earlier_records():
    """The same deauthorisation, or a later one, changes nothing; an earlier one moves the end."""
    g = grant()
    assert g.deauthorise("23", "Anna Berg", D(2018, 1, 1), "t")
    assert not g.deauthorise("23", "Anna Berg", D(2018, 1, 1), "t")
    assert not g.deauthorise("23", "Anna Berg", D(2018, 6, 1), "t")
    assert g.deauthorise("23", "Anna Berg", D(2017, 6, 1), "t")
    assert g.authorisations[0].until == D(2017, 5, 31)
    assert not g.deauthorise("23", "Anna Berg", D(2019, 1, 1), "t")  # already ended by --until


def test_deauthorising_someone_never_authorised_is_refused():
    """A person with no authorisation for the region cannot be deauthorised there."""
    g = grant()
    with pytest.raises(NotFound, match="Bo Ek has no authorisation for 23 Jämtland.*Anna Berg"):
        g.deauthorise("23", "Bo Ek", D(2018, 1, 1), "t")
    with pytest.raises(NotFound, match="nobody is authorised"):
        g.deauthorise("01", "Anna Berg", D(2018, 1, 1), "t")


def test_refusal_names_the_persons_authorisations_or_who_is_authorised():
    """The refusal names each of the person's authorisations with dates, else who may decide."""
    g = grant()
    g.authorise("23", "Anna Berg", "acting", D(2019, 1, 1), None, "t")
    with pytest.raises(Unauthorised, match=r"Anna Berg's authorisations for 23 Jämtland: hsd from "
                                           r"2016-01-01 until 2018-12-31; acting from 2019-01-01\)"):
        g.check_decider("23", "anna berg", D(2015, 6, 1))
    with pytest.raises(Unauthorised, match=r"authorised for 23 Jämtland: Anna Berg from 2016-01-01 until "
                                           r"2018-12-31; Anna Berg from 2019-01-01\)"):
        g.check_decider("23", "Bo Ek", D(2017, 6, 1))


def test_a_decision_stores_the_name_as_authorised_and_a_retyped_retry_is_unchanged(app):
    """`anna berg ` decides as "Director" is stored; the same decision retyped records nothing."""
    setup_jamtland(app)
    app.authorise("pm", "23", "Anna Berg", "hsd", D(2016, 1, 1), None, "t")
    assert app.decide("pm", "X", "23", DecisionTerms("anna berg ", D(2017, 1, 1), "A", "B", "it-admin",
                      {2018: kr(10)}, "", ""), "t")
    assert app.decision("pm", "X").decided_by == "Anna Berg"
    before = app.last_position()
    assert app.decide("pm", "X", "23", DecisionTerms("ANNA  BERG", D(2017, 1, 1), "A", "B", "it-admin",
                      {2018: kr(10)}, "", ""), "t") is False
    assert app.amend("pm", "X", {2018: kr(5)}, "anna berg", D(2017, 2, 1), "less", "t")
    assert app.amend("pm", "X", {2018: kr(5)}, "Anna Berg", D(2017, 2, 1), "less", "t") is False
    assert app.last_position() == before + 2  # the amendment and its commitment
    app.deauthorise("pm", "23", "anna berg", D(2017, 3, 1), "t")
    with pytest.raises(Unauthorised):
        app.revoke("pm", "X", "Anna Berg", D(2017, 3, 1), "stop", "t")
    app.revoke("pm", "X", "Anna Berg", D(2017, 2, 28), "stop", "t")
    assert check_history(entries_of(app)).view.grants["pm"].authorisations[1].until == D(2017, 2, 28)


# --------------------------------------------------------------------------- date rules


def test_the_recording_day_is_the_day_in_sweden():
    """Half past eleven at night UTC in winter is already the next day in Stockholm."""
    assert recorded_day(datetime.datetime(2018, 3, 1, 23, 30, tzinfo=UTC)) == D(2018, 3, 2)
    assert recorded_day(datetime.datetime(2018, 3, 1, 22, 59, tzinfo=UTC)) == D(2018, 3, 1)


def test_nothing_is_dated_after_the_day_it_is_recorded(app):
    """Decision, amendment, revocation, booking, reversal and report: the recording day, not a day later."""
    setup_jamtland(app)
    app.clock = at(D(2018, 3, 1))
    with pytest.raises(Refused, match="decision X is dated 2018-03-02, after the day it is recorded"):
        app.decide("pm", "X", "23", DecisionTerms("Director", D(2018, 3, 2), "A", "B", "it-admin", {2018: kr(10)}, "", ""), "t")
    app.decide("pm", "X", "23", DecisionTerms("Director", D(2018, 3, 1), "A", "B", "it-admin", {2018: kr(10)}, "", ""), "t")
    with pytest.raises(Refused, match="amendment .* dated 2018-03-02"):
        app.amend("pm", "X", {2018: kr(9)}, "Director", D(2018, 3, 2), "less", "t")
    with pytest.raises(Refused, match="voucher V1 is booked on 2018-03-02"):
        app.spend("pm", "X", 2018, kr(1), D(2018, 3, 2), "9902", "V1", "", "t")
    app.spend("pm", "X", 2018, kr(1), D(2018, 3, 1), "9902", "V1", "", "t")
    with pytest.raises(Refused, match="reversal of voucher V1 is dated 2018-03-02"):
        app.reverse("pm", "V1", D(2018, 3, 2), "wrong", "t")
    with pytest.raises(Refused, match="report of 23 Jämtland 2018 is dated 2018-03-02"):
        app.report("pm", "23", 2018, D(2018, 3, 2), ["it-admin"], True, True, None, "", "t")
    with pytest.raises(Refused, match="revocation .* dated 2018-03-02"):
        app.revoke("pm", "X", "Director", D(2018, 3, 2), "stop", "t")
    app.clock = at(D(2018, 3, 2))
    app.revoke("pm", "X", "Director", D(2018, 3, 2), "stop", "t")


def test_a_booking_lies_in_its_year_and_not_before_its_decision(app):
    """A booking dated before its decision, or outside the year it is booked for, is refused."""
    setup_jamtland(app)
    app.decide("pm", "X", "23", DecisionTerms("Director", D(2018, 3, 1), "A", "B", "it-admin", {2018: kr(10)}, "", ""), "t")
    with pytest.raises(Refused, match="booked on 2018-02-28, before decision X was taken on 2018-03-01"):
        app.spend("pm", "X", 2018, kr(1), D(2018, 2, 28), "9902", "V1", "", "t")
    with pytest.raises(Refused, match="booked on 2019-01-01, which is not in 2018"):
        app.spend("pm", "X", 2018, kr(1), D(2019, 1, 1), "9902", "V1", "", "t")
    assert app.spend("pm", "X", 2018, kr(1), D(2018, 3, 1), "9902", "V1", "", "t")


@settings(max_examples=80, deadline=None)
@given(decided=st.dates(D(2016, 1, 1), D(2018, 12, 31)), booked=st.dates(D(2015, 6, 1), D(2019, 6, 30)),
       year=st.sampled_from([2016, 2017, 2018]), today=st.dates(D(2016, 1, 1), D(2019, 6, 30)))
def test_a_booking_is_accepted_exactly_when_its_date_fits(decided, booked, year, today):
    """A booking is accepted iff dated in its year, on or after the decision and not after today."""
    d = Decision.decide("g", "D", "23", DecisionTerms("x", decided, "A", "B", "p", {2016: kr(1), 2017: kr(1), 2018: kr(1)},
                        "", ""), "t", today=max(decided, today))
    fits = booked.year == year and decided <= booked <= today
    try:
        d.spend("V", year, Amount(1), booked, "9902", "", "t", today=today)
        accepted = True
    except Refused:
        accepted = False
    assert accepted == fits
    assert d.spent_for(year) == (Amount(1) if fits else Amount(0))


def test_verify_checks_each_event_against_the_day_it_was_recorded(app):
    """A decision recorded under a clock in the future is dated after its event's own day: verify says so."""
    setup_jamtland(app)
    future = recorded_day(datetime.datetime.now(UTC)) + datetime.timedelta(days=400)
    app.clock = at(future)
    app.define_grant("late", "L", future.year, future.year, [["p", "P"]], "3", "9902", "t")
    app.authorise("late", "23", "Director", "hsd", None, None, "t")
    app.set_frame("late", "23", future.year, kr(1), None, "t")
    app.decide("late", "F", "23", DecisionTerms("Director", future, "A", "B", "p", {future.year: kr(1)}, "", ""), "t")
    with pytest.raises(HistoryError, match=r"\(decided\): decision F is dated .*after the day it is recorded"):
        check_history(entries_of(app))


# --------------------------------------------------------------------------- late recording


def test_compliance_notes_authorisations_and_decisions_recorded_late(app):
    """Recorded more than LATE_AFTER_DAYS days after it took effect is noted; within it, not."""
    today = recorded_day(datetime.datetime.now(UTC))
    year = today.year
    app.define_grant("now", "N", year - 1, year, [["p", "P"]], "3", "9902", "t")
    app.authorise("now", "23", "Anna Berg", "hsd", today - datetime.timedelta(days=LATE_AFTER_DAYS + 1),
                  None, "t")
    app.authorise("now", "23", "Bo Ek", "hsd", today - datetime.timedelta(days=LATE_AFTER_DAYS), None, "t")
    app.set_frame("now", "23", year, kr(100), None, "t")
    app.decide("now", "OLD", "23", DecisionTerms("Anna Berg", today - datetime.timedelta(days=LATE_AFTER_DAYS + 1), "A", "B",
               "p", {year: kr(1)}, "", ""), "t")
    app.decide("now", "NEW", "23", DecisionTerms("Bo Ek", today - datetime.timedelta(days=LATE_AFTER_DAYS), "A", "B",
               "p", {year: kr(1)}, "", ""), "t")
    row = compliance_rows(fold(entries_of(app)), "now", today, "23", year)[0]
    late = [f for f in row["findings"] if "recorded more than" in f]
    assert len(late) == 2, late
    assert "authorisation of Anna Berg" in late[0] and "Bo Ek" not in late[0]
    assert "1 decision recorded" in late[1] and "OLD" in late[1] and "NEW" not in late[1]
    assert row["status"] == "ok" or row["money_at_risk"] == Amount(0)


# --------------------------------------------------------------------------- the command line


def test_cli_deauthorise_and_authorisations(grants):
    """deauthorise records, then is unchanged (exit 0); unknown person exit 1; the list shows the end."""
    jamtland(grants)
    out = grants("deauthorise", G, "--region", "23", "--person", "anna berg", "--from", "2018-06-01")
    assert out.stdout.startswith("recorded:")
    events = grants.events()
    again = grants("deauthorise", G, "--region", "23", "--person", "Anna Berg", "--from", "2018-06-01")
    assert again.stdout.startswith("unchanged:") and grants.events() == events
    grants("deauthorise", G, "--region", "23", "--person", "Bo Ek", "--from", "2018-06-01", code=1)
    rows = grants.json("authorisations", G, "--region", "Jämtland")
    assert [(r["person"], r["from"], r["until"], r["region_name"]) for r in rows] == [
        ("Anna Berg", "2016-01-01", "2018-05-31", "Jämtland")]
    assert rows[0]["recorded_on"]
    csv_text = grants("authorisations", G, fmt="csv").stdout
    assert csv_text.splitlines()[0].startswith("region,region_name,person,role,from,until")
    refused = grants("amend", G, "--decision", "JH-PM-01", "--amount", "2018=1", "--decided-by", "Anna Berg",
                     "--on", "2018-06-01", "--reason", "x", code=1)
    assert "Anna Berg's authorisations for 23 Jämtland: hälso- och sjukvårdsdirektör from 2016-01-01 " \
           "until 2018-05-31" in refused.stderr
    table = grants("audit", G, "--year", "2018", "--region", "23").stdout
    assert "recorded more than 30 days after" in table
    audit = grants.json("audit", G, "--year", "2018", "--region", "23")
    assert any("authorisation of Anna Berg from 2016-01-01 was recorded more than 30 days" in f
               for row in audit["compliance"] for f in row["findings"])


def test_cli_booking_outside_its_year_and_a_future_date_exit_1(grants):
    """`spend --year 2018 --booked-on 2016-01-05` names both; a decision dated tomorrow is refused."""
    jamtland(grants)
    events = grants.events()
    err = grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "1",
                 "--booked-on", "2016-01-05", "--object", "9902", "--voucher", "V1", code=1).stderr
    assert "2016-01-05" in err and "2018" in err
    tomorrow = recorded_day(datetime.datetime.now(UTC)) + datetime.timedelta(days=1)
    err = grants("decide", G, "--region", "23", "--decision", "T", "--decided-by", "Anna Berg",
                 "--on", tomorrow.isoformat(), "--area", "A", "--activity", "B", "--purpose", "it-admin",
                 "--amount", "2018=1", code=1).stderr
    assert "after the day it is recorded" in err
    assert grants.events() == events
    assert json.loads(grants("authorisations", G, fmt="json").stdout)[0]["until"] is None
