"""The agreement's terms (deadlines, carry-over, what a report must hold), their amendment,
and what compliance judges by them."""

import attrs
import pytest

from ledger.errors import Duplicate, Refused
from ledger.terms import Agreement, DecisionTerms
from projections.compliance import compliance_rows
from projections.fold import entries_of, fold
from tests.drivers import D, Grants, kr
from tests.jamtland import G, define, setup_jamtland


def row(app, on):
    [r] = compliance_rows(fold(entries_of(app)), "pm", on, "23", 2018)
    return r


def amend(app, **terms):
    current = app.grant("pm").agreement(2018)
    return app.sign_agreement("pm", attrs.evolve(current, **terms), "t")


def test_an_amendment_changes_only_its_terms_and_a_retry_records_nothing(app):
    """Signed again with other deadlines, the agreement is amended; the same again is unchanged; pots never change."""
    setup_jamtland(app)
    assert amend(app, signed_on=D(2018, 3, 1), requisition_by=D(2018, 11, 30), carry_over="not-allowed")
    assert amend(app, signed_on=D(2018, 3, 1), requisition_by=D(2018, 11, 30), carry_over="not-allowed") is False
    agreement = app.grant("pm").agreement(2018)
    assert (agreement.requisition_by, agreement.carry_over, agreement.amended_on) == (
        D(2018, 11, 30), "not-allowed", D(2018, 3, 1))
    assert agreement.signed_on == D(2018, 1, 25)  # the first signing stays what it was
    with pytest.raises(Duplicate, match="an amendment may change only"):
        amend(app, signed_on=D(2018, 4, 1), payer="Kammarkollegiet")
    with pytest.raises(Refused, match="signed after 2018-03-01"):
        amend(app, signed_on=D(2018, 2, 1), carry_over="allowed")
    with pytest.raises(Duplicate):  # the same terms under another date say nothing new
        amend(app, signed_on=D(2018, 5, 1))


def test_a_requisition_after_its_deadline_is_refused_and_the_rest_has_lapsed(app):
    """Money not requisitioned by --requisition-by lapses: a later requisition is refused, compliance names it."""
    setup_jamtland(app)
    amend(app, signed_on=D(2018, 2, 1), requisition_by=D(2018, 6, 30))
    app.requisition("pm", "23", 2018, "stimulus", kr(8_000_000), D(2018, 6, 30), "R1", "t")
    with pytest.raises(Refused, match="not requisitioned by 2018-06-30 has lapsed"):
        app.requisition("pm", "23", 2018, "stimulus", kr(1), D(2018, 7, 1), "R2", "t")
    assert not any("lapsed" in f for f in row(app, D(2018, 6, 30))["findings"])
    findings = row(app, D(2018, 7, 1))["findings"]
    assert "357 305 of pot stimulus lapsed: not requisitioned by 2018-06-30" in findings
    assert "3 851 293 of pot nurse-education lapsed: not requisitioned by 2018-06-30" in findings


def test_unused_money_not_repaid_by_its_deadline_is_a_breach(app):
    """After --repay-unused-by, what the region keeps and did not spend is named, until it is repaid."""
    setup_jamtland(app)
    amend(app, signed_on=D(2018, 2, 1), repay_unused_by=D(2019, 3, 31))
    app.decide("pm", "X", "23", DecisionTerms("Director", D(2018, 2, 1), "A", "B", "it-admin",
               {2018: kr(12_000_000)}, "", ""), "t")
    app.spend("pm", "X", 2018, kr(11_900_000), D(2018, 6, 1), "9902", "V1", "", "t")
    assert not any("unused" in f for f in row(app, D(2019, 3, 31))["findings"])
    r = row(app, D(2019, 4, 1))
    assert "308 598 unused was not repaid by 2019-03-31: repay it, or the state reclaims it" in r["findings"]
    assert r["status"] == "non-compliant"
    app.revoke("pm", "X", "Director", D(2018, 12, 31), "the rest is not needed", "t")
    app.repay("pm", "23", 2018, kr(308_598), D(2019, 3, 1), "RP1", "t", pot="stimulus")
    assert not any("unused" in f for f in row(app, D(2019, 4, 1))["findings"])


def test_carried_over_bookings_are_taken_when_a_term_is_stated_and_judged_by_it(app):
    """Without a carry-over term a booking in the next year is refused; with one it is taken, and a breach where not allowed."""
    setup_jamtland(app)
    app.decide("pm", "X", "23", DecisionTerms("Director", D(2018, 2, 1), "A", "B", "it-admin",
               {2018: kr(1_000_000)}, "", ""), "t")
    with pytest.raises(Refused, match="not in 2018"):
        app.spend("pm", "X", 2018, kr(1000), D(2019, 1, 15), "9902", "V1", "", "t")
    amend(app, signed_on=D(2018, 2, 1), carry_over="allowed")
    assert app.spend("pm", "X", 2018, kr(1000), D(2019, 1, 15), "9902", "V1", "", "t")
    with pytest.raises(Refused, match="not in 2018"):  # one year on, no further
        app.spend("pm", "X", 2018, kr(1000), D(2020, 1, 15), "9902", "V2", "", "t")
    assert not any("carry-over" in f for f in row(app, D(2019, 6, 1))["findings"])
    amend(app, signed_on=D(2018, 3, 1), carry_over="not-allowed")
    r = row(app, D(2019, 6, 1))
    assert "1 000 of 2018's money was used in 2019, though the agreement does not allow carry-over" in r["findings"]


def test_the_terms_show_in_history_and_survive_export_import_and_read_models(grants, tmp_path):
    """On the command line: sign, amend; history names both; verify re-checks; an import says the same."""
    define(grants)
    out = grants("agreement", "sign", G, "--year", "2018", "--signed-on", "2018-03-01",
                 "--pot", "stimulus=651 000 000", "--pot", "nurse-education=300000000 kr",
                 "--earmark", "nurse-education=nurse-specialist-education", "--report-due", "2019-02-15",
                 "--report-to", "Socialstyrelsen", "--payer", "SKL", "--population-date", "2017-11-01",
                 "--requisition-by", "2018-11-30", "--carry-over", "not-allowed",
                 "--report-asks", "measures", "--report-asks", "responsible")
    assert "agreement amended, signed 2018-03-01" in out.stdout
    history = grants.json("history", G)
    [amended] = [e for e in history if e["type"] == "agreement-amended"]
    assert "requisition by 2018-11-30; carry-over not-allowed; report asks measures, responsible" in amended["summary"]
    grants("export", "--output", str(tmp_path / "l.jsonl"))
    copy = Grants(str(tmp_path / "copy.sqlite"))
    copy("import", str(tmp_path / "l.jsonl"))
    assert "the history holds" in copy("verify").stdout
    assert copy.json("history", G) == history


def test_an_agreement_without_new_terms_is_stored_as_its_first_version_was(app):
    """A history written before the terms existed stays byte for byte what it was."""
    setup_jamtland(app)
    topics = [n.topic for n in app.recorder.select_notifications(start=1, limit=100)]
    assert "grants:Grant.AgreementSigned/v1" in topics
    assert Agreement.__attrs_attrs__.report_asks.default == ()
