"""The report's content (measures per purpose, involvement, continuation, the person
responsible): how it is recorded, re-checked and kept, and what compliance asks of it."""

import datetime
import json

import attrs
import pytest

from ledger.errors import Corrupt, Malformed, Refused
from ledger.terms import DecisionTerms, ReportContent
from ledger import states
from projections.balances import balance_rows
from projections.compliance import compliance_rows
from projections.fold import entries_of, fold
from projections.persisted import ReadModels
from tests.drivers import D, Grants, kr
from tests.jamtland import G, jamtland, setup_jamtland

FILED = D(2019, 2, 10)
FULL = ReportContent({"it-admin": " New scheduling system ", "competence-use": "Mobile team"},
                     "Ward managers in the steering group", "Unions consulted monthly",
                     "Funded by the region from 2019", "Anna Berg")


def topics(app) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(start=1, limit=1000)]


def decided(app) -> None:
    """Jämtland 2018 with 1 000 000 decided for it-admin and 500 000 for competence-use."""
    setup_jamtland(app)
    for n, (purpose, amount) in enumerate((("it-admin", 1_000_000), ("competence-use", 500_000))):
        app.decide("pm", f"X{n}", "23", DecisionTerms("Director", D(2018, 2, 1), "A", "B", purpose,
                   {2018: kr(amount)}, "", ""), "t")


def report(app, content=None, covers=("it-admin", "competence-use"), units=True, reps=True, on=FILED):
    return app.report("pm", "23", 2018, on, list(covers), units, reps, None, "", "t", content=content)


def findings(app, on=D(2019, 3, 1)) -> list[str]:
    [r] = compliance_rows(fold(entries_of(app)), "pm", on, "23", 2018)
    return r["findings"]


def ask(app, *items):
    """Amend the 2018 agreement (signed a day after its last signing) to ask the report for ``items``."""
    current = app.grant("pm").agreement(2018)
    later = (current.amended_on or current.signed_on) + datetime.timedelta(days=1)
    return app.sign_agreement("pm", attrs.evolve(current, signed_on=later, report_asks=items), "t")


def test_content_is_recorded_as_v2_and_a_retry_records_nothing(app):
    """A report with content is ReportFiled/v2, its texts trimmed; the same report again is unchanged."""
    decided(app)
    assert report(app, FULL)
    assert report(app, FULL) is False
    assert report(app, attrs.evolve(FULL, responsible="  Anna Berg ")) is False  # trimmed: the same
    assert topics(app).count("grants:RegionYear.ReportFiled/v2") == 1
    [kept] = app.region_year("pm", "23", 2018).reports
    assert kept.content == FULL and kept.content.measures["it-admin"] == "New scheduling system"
    assert report(app, attrs.evolve(FULL, continuation="Ends with the grant"))  # other content: another report
    assert len(app.region_year("pm", "23", 2018).reports) == 2


def test_a_report_without_content_is_still_v1(app):
    """No content, or only empty texts, is recorded as ReportFiled/v1, as before content existed."""
    decided(app)
    assert report(app, ReportContent({"it-admin": "  "}, " ", "", "", ""))
    assert report(app) is False  # the same report: empty texts state nothing
    assert "grants:RegionYear.ReportFiled/v1" in topics(app)
    assert "grants:RegionYear.ReportFiled/v2" not in topics(app)


def test_measures_for_a_purpose_not_covered_are_refused(app):
    """Measures may name only purposes the report covers; nothing is recorded."""
    decided(app)
    before = len(topics(app))
    with pytest.raises(Refused, match="states measures for competence-use, which it does not cover"):
        report(app, ReportContent({"competence-use": "Mobile team"}), covers=["it-admin"])
    with pytest.raises(Malformed, match="more than once"):
        ReportContent([["it-admin", "a"], ["it-admin", "b"]])
    assert len(topics(app)) == before


def test_an_involvement_text_implies_its_flag_and_contradicts_a_no(app):
    """Saying how patient-near units were involved makes the flag true; with --no-patient-units it is malformed."""
    decided(app)
    with pytest.raises(Malformed, match="--no-patient-units contradicts"):
        report(app, ReportContent(patient_units_how="Ward managers"), units=False)
    assert report(app, ReportContent(patient_units_how="Ward managers"), units=None, reps=None)
    [kept] = app.region_year("pm", "23", 2018).reports
    assert (kept.patient_units, kept.employee_reps) == (True, None)
    assert report(app, ReportContent(patient_units_how="Ward managers"), units=True, reps=None) is False


def test_compliance_names_each_item_the_agreement_asks_for_and_the_report_lacks(app):
    """With --report-asks, each missing item is a breach; a report with the content clears them all."""
    decided(app)
    report(app, ReportContent({"it-admin": "New scheduling system"}))
    unasked = findings(app)
    assert not any("report-asks" in f or "the agreement asks" in f for f in unasked)
    ask(app, "measures", "involvement", "continuation", "responsible")
    assert [f for f in findings(app) if f not in unasked] == [
        "the report states no measures for competence-use, for which 500 000 was decided "
        "(the agreement asks for the measures per purpose)",
        "the report does not describe how patient-near units were involved (the agreement asks for it "
        "in words; a yes alone is not enough)",
        "the report does not describe how employee representatives were involved (the agreement asks for "
        "it in words; a yes alone is not enough)",
        "the report does not state how the work continues after the grant (the agreement asks for it)",
        "the report does not name who is responsible for the follow-up (the agreement asks for it)",
    ]
    [r] = compliance_rows(fold(entries_of(app)), "pm", D(2019, 3, 1), "23", 2018)
    assert r["status"] == "non-compliant" and "500 000 at risk: the report states no measures" in r["risk_reason"]
    report(app, FULL, on=D(2019, 3, 2))
    assert findings(app, D(2019, 3, 1)) != unasked  # a report filed after the judging day does not count
    assert findings(app, D(2019, 3, 2)) == findings_unasked_on(app, D(2019, 3, 2))


def findings_unasked_on(app, on) -> list[str]:
    """The findings as they would be if the agreement asked nothing of the report's content."""
    ask(app)
    try:
        return findings(app, on)
    finally:
        ask(app, "measures", "involvement", "continuation", "responsible")


def test_only_the_asked_items_are_judged(app):
    """Asked only for the person responsible, a report without measures or continuation lacks nothing else."""
    decided(app)
    report(app, ReportContent(responsible="Anna Berg"))
    unasked = findings(app)
    ask(app, "responsible")
    assert findings(app) == unasked
    ask(app, "responsible", "continuation")
    now = findings(app)
    assert set(unasked) <= set(now) and [f for f in now if f not in unasked] == [
        "the report does not state how the work continues after the grant (the agreement asks for it)"]


def test_the_read_models_keep_the_content_and_agree_with_the_fold(app, db_path):
    """Balances and compliance served from the persisted read models equal the fold's; a kept
    content that the ledger would not keep is Corrupt."""
    decided(app)
    ask(app, "measures", "responsible")
    models = ReadModels(db_path)
    try:
        models.catch_up(app)
        report(app, attrs.evolve(FULL, measures={"it-admin": "New scheduling system"}))
        models.catch_up(app)
        view = fold(entries_of(app))
        on = D(2019, 3, 1)
        assert models.balance_rows("pm", None, None) == balance_rows(view, "pm")
        served = compliance_rows(models.view_for("pm", None), "pm", on, None, None)
        assert served == compliance_rows(view, "pm", on, None, None)
        assert any("no measures for competence-use" in f for f in served[0]["findings"])
    finally:
        models.close()
    region_year = app.region_year("pm", "23", 2018)
    data = states.dump(region_year)
    assert states.load(data, "RegionYear").reports == region_year.reports
    state = json.loads(data)
    state["reports"][0][9]["responsible"] = " Anna Berg"
    with pytest.raises(Corrupt, match="a report's content"):
        states.load(json.dumps(state).encode(), "RegionYear")


def test_on_the_command_line_history_export_import_and_verify(grants, tmp_path):
    """`grants report` with content: history says what it holds; a copy imported from the export verifies."""
    jamtland(grants)
    out = grants("report", G, "--region", "23", "--year", "2018", "--filed-on", "2019-02-10",
                 "--covers", "it-admin", "--covers", "competence-use",
                 "--measures", "it-admin=New scheduling system", "--measures", "competence-use=Mobile team",
                 "--patient-units-involvement", "Ward managers in the steering group",
                 "--employee-reps-involvement", "Unions consulted monthly",
                 "--continuation", "Funded by the region from 2019", "--responsible", "Anna Berg")
    assert "report filed 2019-02-10" in out.stdout
    history = grants.json("history", G)
    [filed] = [e for e in history if e["type"] == "report-filed"]
    assert filed["summary"] == (
        "23 Jämtland 2018: report filed 2019-02-10 to Socialstyrelsen; measures for it-admin, competence-use; "
        "how patient-near units and employee representatives were involved; how the work continues; "
        "responsible Anna Berg")
    err = grants("report", G, "--region", "23", "--year", "2018", "--filed-on", "2019-02-10",
                 "--covers", "it-admin", "--measures", "nurse-specialist-education=Courses", code=1).stderr
    assert "states measures for nurse-specialist-education, which it does not cover" in err
    assert "is not PURPOSE=TEXT" in grants("report", G, "--region", "23", "--year", "2018", "--filed-on",
                                           "2019-02-10", "--measures", "it-admin", code=2).stderr
    grants("export", "--output", str(tmp_path / "l.jsonl"))
    lines = (tmp_path / "l.jsonl").read_text(encoding="utf-8").splitlines()
    [line] = [json.loads(x) for x in lines if '"report-filed"' in x]
    assert line["topic"] == "grants:RegionYear.ReportFiled/v2"
    assert line["data"]["measures"] == [["it-admin", "New scheduling system"], ["competence-use", "Mobile team"]]
    copy = Grants(str(tmp_path / "copy.sqlite"))
    copy("import", str(tmp_path / "l.jsonl"))
    assert "the history holds" in copy("verify").stdout
    assert copy.json("history", G) == history
    line["data"]["measures"].append(["nurse-specialist-education", "Courses"])
    (tmp_path / "bad.jsonl").write_text("\n".join(
        json.dumps(line, ensure_ascii=False) if '"report-filed"' in x else x for x in lines) + "\n", encoding="utf-8")
    err = Grants(str(tmp_path / "bad.sqlite"))("import", str(tmp_path / "bad.jsonl"), code=2).stderr
    assert "measures for nurse-specialist-education, which it does not cover" in err
