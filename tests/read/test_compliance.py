"""Compliance checks: each returns findings as data; the row sums up status and money at risk."""

import pytest

from ledger.values import Amount
from projections.compliance import CHECKS, compliance_rows
from projections.fold import entries_of, fold
from tests.drivers import D, kr
from tests.jamtland import setup_jamtland
from ledger.terms import DecisionTerms


def row(app, on):
    [r] = compliance_rows(fold(entries_of(app)), "pm", on, "23", 2018)
    return r


@pytest.fixture
def jamtland(app):
    setup_jamtland(app)
    app.decide("pm", "X", "23", DecisionTerms("Director", D(2017, 1, 1), "A", "B", "it-admin",
               {2018: kr(9_980_000)}, "", ""), "t")
    return app


def test_every_check_is_a_listed_function():
    """Compliance is the list of small checks, each documented."""
    assert len(CHECKS) >= 6 and all(c.__doc__ for c in CHECKS)


def test_report_due_puts_the_whole_allocation_at_risk(jamtland):
    """Before the due date with nothing filed, the whole allocation is at risk."""
    r = row(jamtland, D(2019, 1, 31))
    assert (r["report_status"], r["status"]) == ("due", "at-risk")
    assert r["money_at_risk"] == kr(12_208_598)
    assert "12 208 598 at risk: no report filed, due 2019-02-15" in r["risk_reason"]


def test_report_overdue_is_non_compliant(jamtland):
    """The day after the due date with nothing filed, the year is overdue."""
    assert row(jamtland, D(2019, 2, 15))["report_status"] == "due"
    r = row(jamtland, D(2019, 2, 16))
    assert (r["report_status"], r["status"]) == ("overdue", "non-compliant")


def test_report_on_time_late_and_content(jamtland):
    """Filing on the due date is on time; a day later is late; content gaps are findings."""
    jamtland.reserve("pm", "23", 2018, kr(2_228_598), "nurse-specialist-education", D(2018, 4, 6), "RES-1", "t")
    jamtland.requisition("pm", "23", 2018, "stimulus", kr(8_357_305), D(2018, 3, 1), "REK-1", "t")
    jamtland.requisition("pm", "23", 2018, "nurse-education", kr(3_851_293), D(2018, 3, 1), "REK-2", "t")
    jamtland.report("pm", "23", 2018, D(2019, 2, 15), ["it-admin"], True, None, None, "", "t")
    r = row(jamtland, D(2019, 3, 1))
    assert r["report_status"] == "filed-on-time"
    assert r["status"] == "non-compliant"
    assert any("employee representatives" in f for f in r["findings"])
    jamtland.report("pm", "23", 2018, D(2019, 2, 20), ["it-admin"], True, True, None, "", "t")
    r = row(jamtland, D(2019, 3, 1))
    assert r["status"] == "at-risk"
    assert r["earmarked_used_elsewhere"] == r["money_at_risk"] == kr(1_622_695)
    assert r["risk_reason"] == ("1 622 695 at risk: earmarked money used elsewhere: 1 622 695 "
                                "of the 3 851 293 earmarked for nurse-specialist-education "
                                "(pot nurse-education)")


def test_report_late(app):
    """A first report after the due date is filed late: non-compliant, allocation at risk."""
    setup_jamtland(app)
    app.report("pm", "23", 2018, D(2019, 2, 16), [], True, True, None, "", "t")
    r = row(app, D(2019, 3, 1))
    assert (r["report_status"], r["status"]) == ("filed-late", "non-compliant")
    assert r["money_at_risk"] == kr(12_208_598)


def test_report_must_cover_decided_purposes(jamtland):
    """A report silent on a purpose money was decided for is a finding with that money at risk."""
    jamtland.report("pm", "23", 2018, D(2019, 2, 1), ["competence-use"], True, True, None, "", "t")
    r = row(jamtland, D(2019, 2, 2))
    assert any("does not cover it-admin" in f for f in r["findings"])


def test_bookings_on_another_object_are_findings(jamtland):
    """Every booking must be on the grant's accounting object."""
    jamtland.spend("pm", "X", 2018, kr(500), D(2018, 5, 1), "1234", "V1", "", "t")
    r = row(jamtland, D(2018, 6, 1))
    assert any("voucher V1 (500) is booked on object 1234, not the grant's 9902" in f
               for f in r["findings"])
    assert r["status"] == "non-compliant"
    jamtland.reverse("pm", "V1", D(2018, 5, 2), "wrong object", "t")
    assert not any("voucher V1" in f for f in row(jamtland, D(2018, 6, 1))["findings"])


def test_year_end_requisitions_and_uncommitted_money(app):
    """After the year, unrequisitioned allocations and undecided money are at risk."""
    setup_jamtland(app)
    assert not any("requisitioned" in f for f in row(app, D(2018, 12, 31))["findings"])
    findings = row(app, D(2019, 1, 1))["findings"]
    assert any("8 357 305 of pot stimulus was not requisitioned" in f for f in findings)
    assert any("12 208 598 left undecided and unreserved at the end of 2018" in f for f in findings)


def test_earmark_honoured_when_decided_or_reserved_for_its_purpose(jamtland):
    """Money decided or reserved for the earmarked purpose leaves nothing used elsewhere."""
    assert row(jamtland, D(2018, 6, 1))["earmarked_used_elsewhere"] == kr(1_622_695)
    jamtland.amend("pm", "X", {2018: kr(8_357_305)}, "Director", D(2018, 5, 1), "make room", "t")
    jamtland.decide("pm", "N", "23", DecisionTerms("Director", D(2018, 5, 1), "Vård", "Specialistutbildning",
                    "nurse-specialist-education", {2018: kr(3_851_293)}, "", ""), "t")
    assert row(jamtland, D(2018, 6, 1))["earmarked_used_elsewhere"] == Amount(0)
