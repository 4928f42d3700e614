"""The command line, driven as cli.md says: every command and its output, help, export,
the demo and rebuild."""

from __future__ import annotations

import json

from click.testing import CliRunner

from commands.cli import cli
from tests.drivers import DATA, population_file
from tests.jamtland import G, define, jamtland


def test_jamtland_2018_typed_command_by_command(grants):
    """The worked example: committed 9 980 000, available 2 228 598, 1 622 695 earmarked used elsewhere."""
    jamtland(grants)
    [b] = grants.json("balance", G, "--region", "23", "--year", "2018")
    assert (b["allocated"], b["committed"], b["available"]) == ("12208598.00", "9980000.00", "2228598.00")
    assert (b["region"], b["year"], b["grant"]) == ("23", 2018, G)
    table = grants("balance", G, "--region", "23", "--year", "2018").stdout
    assert "2 228 598" in table and "9 980 000" in table and "12 208 598" in table
    [c] = grants.json("compliance", G, "--region", "23", "--year", "2018", "--on", "2018-04-06")
    assert c["earmarked_used_elsewhere"] == "1622695.00"
    grants("reserve", G, "--region", "23", "--year", "2018", "--amount", "2228598",
           "--purpose", "nurse-specialist-education", "--on", "2018-04-06", "--ref", "RES-1")
    [b] = grants.json("balance", G, "--region", "23", "--year", "2018")
    assert (b["reserved"], b["available"], b["shortfall"]) == ("2228598.00", "0.00", "0.00")
    [c] = grants.json("compliance", G, "--region", "23", "--year", "2018", "--on", "2019-02-01")
    assert (c["report_status"], c["money_at_risk"], c["earmarked_used_elsewhere"]) == (
        "due", "12208598.00", "1622695.00")
    assert c["report_due"] == "2019-02-15"
    assert any("no report filed, due 2019-02-15" in f for f in c["findings"])


def test_every_recording_command_and_query(grants):
    """Frame, requisition, spend, reverse, amend, revoke, repay, report, close, reopen, and the queries."""
    jamtland(grants)
    grants("frame", G, "--region", "23", "--year", "2017", "--amount", "1000000", "--on", "2016-02-01")
    grants("requisition", G, "--region", "23", "--year", "2018", "--pot", "stimulus",
           "--amount", "8357305", "--on", "2018-03-01", "--ref", "REK-1")
    grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "125 000,50",
           "--booked-on", "2018-03-31", "--object", "9902", "--voucher", "V-1", "--text", "salary")
    out = grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "125 000,50",
                 "--booked-on", "2018-03-31", "--object", "9902", "--voucher", "V-1", "--text", "salary")
    assert out.stdout.startswith("unchanged:")
    grants("spend", G, "--decision", "JH-PM-02", "--year", "2018", "--amount", "1000",
           "--booked-on", "2018-04-01", "--object", "9902", "--voucher", "V-2")
    grants("reverse", G, "--voucher", "V-2", "--on", "2018-04-02", "--reason", "wrong decision")
    grants("amend", G, "--decision", "JH-PM-03", "--amount", "2018=1 000 000", "--decided-by",
           "Anna Berg", "--on", "2018-05-01", "--reason", "smaller")
    grants("revoke", G, "--decision", "JH-PM-11", "--decided-by", "Anna Berg", "--on", "2018-05-01",
           "--reason", "stopped")
    grants("repay", G, "--region", "23", "--year", "2018", "--amount", "100", "--on", "2018-06-01",
           "--ref", "ÅB-1")
    grants("report", G, "--region", "23", "--year", "2018", "--filed-on", "2019-02-10",
           "--covers", "it-admin", "--covers", "competence-use", "--covers", "competence-supply",
           "--patient-units", "--employee-reps")
    grants("close", G, "--region", "23", "--year", "2018", "--on", "2019-03-01")
    grants("reopen", G, "--region", "23", "--year", "2018", "--on", "2019-03-02", "--reason", "late invoice")

    [b] = grants.json("balance", G, "--region", "23", "--year", "2018")
    assert b["spent"] == "125000.50"
    assert b["committed"] == "9428000.00"  # 9 980 000 - 432 000 (amended) - 120 000 (revoked)
    assert b["allocated"] == "12208498.00" and b["requisitioned"] == "8357205.00"
    rows = grants.json("commitments", G, "--region", "23", "--year", "2018")
    by_id = {r["decision"]: r for r in rows}
    assert by_id["JH-PM-01"]["remaining"] == "2374999.50"
    assert (by_id["JH-PM-03"]["amount"], by_id["JH-PM-03"]["status"]) == ("1000000.00", "amended")
    assert (by_id["JH-PM-11"]["amount"], by_id["JH-PM-11"]["status"]) == ("0.00", "revoked")
    assert set(rows[0]) >= {"decision", "region", "area", "activity", "purpose", "year", "amount",
                            "spent", "remaining", "status"}
    history = grants.json("history", G, "--decision", "JH-PM-01")
    assert [h["type"] for h in history] == ["decided", "commitment-set", "spent", "voucher-registered"]
    assert all(h["recorded_by"] == "anna" for h in history)
    assert set(history[0]) >= {"position", "recorded_at", "recorded_by", "type", "summary"}
    region_history = grants.json("history", G, "--region", "23")
    assert any(h["type"] == "year-reopened" for h in region_history)
    csv_out = grants("balance", G, fmt="csv").stdout.splitlines()
    assert csv_out[0].startswith("region,region_name,year,allocated")
    frame_row = [r for r in grants.json("balance", G, "--region", "23") if r["year"] == 2017][0]
    assert (frame_row["available"], frame_row["allocated"]) == ("1000000.00", "0.00")


def test_allocate_by_table_and_by_population(grants, tmp_path):
    """A published table loads as is; by population the shares sum exactly to the pot."""
    define(grants)
    grants("agreement", "sign", G, "--year", "2016", "--signed-on", "2016-01-28",
           "--pot", "stimulus=1000000000", "--report-due", "2017-03-31")
    grants("allocate", G, "--year", "2016", "--pot", "stimulus", "--table", str(DATA / "allocation-2016.csv"))
    rows = grants.json("balance", G, "--year", "2016")
    assert len(rows) == 21
    assert sum(int(r["allocated"].split(".")[0]) for r in rows) == 1_000_000_000
    assert [r for r in rows if r["region"] == "23"][0]["allocated"] == "12972610.00"
    again = grants("allocate", G, "--year", "2016", "--pot", "stimulus", "--table",
                   str(DATA / "allocation-2016.csv"))
    assert again.stdout.startswith("unchanged:")
    pop = tmp_path / "pop.csv"
    population_file(pop, {"Stockholm": 3, "Uppsala": 1, "Jämtland": 1})
    grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--by-population", str(pop),
           "--amount", "10")
    alloc = {r["region"]: r["allocated"] for r in grants.json("balance", G, "--year", "2018")}
    assert alloc == {"01": "6.00", "03": "2.00", "23": "2.00"}


def test_export_writes_every_event_as_json_lines(grants, tmp_path):
    """Export: one JSON object a line, in recording order, with recorded time and recorder."""
    jamtland(grants)
    out = tmp_path / "ledger.jsonl"
    grants("export", "--output", str(out))
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == grants.events()
    assert [line["position"] for line in lines] == sorted(line["position"] for line in lines)
    assert lines[0]["type"] == "grant-defined" and lines[0]["recorded_by"] == "anna"
    decided = [line for line in lines if line["type"] == "decided"]
    assert decided[0]["data"]["decided_on"] == "2016-04-20"
    assert grants("export").stdout.count("\n") == len(lines)


def test_demo_is_idempotent_and_prints_jamtland(grants):
    """`grants demo` loads the example once and prints Jämtland 2018's balance and compliance."""
    first = grants("demo", "--on", "2019-02-01")
    assert "2 228 598" in first.stdout and "9 980 000" in first.stdout and "1 622 695" in first.stdout
    count = grants.events()
    second = grants("demo", "--on", "2019-02-01")
    assert "nothing new" in second.stdout
    assert grants.events() == count
    data = json.loads(grants("demo", "--on", "2019-02-01", fmt="json").stdout)
    [b] = data["balance"]
    assert (b["committed"], b["reserved"], b["available"]) == ("9980000.00", "2228598.00", "0.00")
    [c] = data["compliance"]
    assert (c["earmarked_used_elsewhere"], c["report_due"], c["report_status"]) == (
        "1622695.00", "2019-02-15", "due")
    assert len(grants.json("balance", G, "--year", "2016")) == 21


def test_help_is_complete_and_has_examples(grants):
    """Every command's --help runs and shows an example."""
    for command in ["grant define", "agreement sign", "allocate", "frame", "requisition", "authorise",
                    "decide", "amend", "revoke", "spend", "reverse", "reserve", "repay", "report",
                    "close", "reopen", "balance", "commitments", "compliance", "history", "export",
                    "demo", "audit", "verify", "import", "rebuild"]:
        result = grants(*command.split(), "--help")
        assert "Example" in result.stdout, command
    assert "Exit codes" in grants("--help").stdout


def test_no_arguments_shows_help(grants):
    """`grants` alone prints its help and succeeds."""
    result = CliRunner().invoke(cli, [], catch_exceptions=False)
    assert result.exit_code == 0 and "Usage:" in result.stdout and not result.stderr


def test_amendments_follow_the_decision_and_retry_safely(grants):
    """An amendment dated before the decision is refused; the same amendment again records nothing."""
    jamtland(grants)
    args = ["amend", G, "--decision", "JH-PM-01", "--amount", "2018=2000000", "--decided-by",
            "Anna Berg", "--on", "2018-05-01", "--reason", "smaller team"]
    assert grants(*args).stdout.startswith("recorded:")
    assert grants(*args).stdout.startswith("unchanged:")
    r = grants("revoke", G, "--decision", "JH-PM-01", "--decided-by", "Anna Berg", "--on",
               "2018-04-30", "--reason", "x", code=1)
    assert "last changed on 2018-05-01" in r.stderr


def test_a_decision_for_the_reserved_purpose_uses_the_reservation(grants):
    """After reserving for nurse education, a nurse-education decision draws on the reservation."""
    jamtland(grants)
    grants("reserve", G, "--region", "23", "--year", "2018", "--amount", "2228598",
           "--purpose", "nurse-specialist-education", "--on", "2018-04-06", "--ref", "RES-1")
    grants("decide", G, "--region", "23", "--decision", "JH-SSK", "--decided-by", "Anna Berg",
           "--on", "2018-05-01", "--area", "Vård", "--activity", "Specialistutbildning",
           "--purpose", "nurse-specialist-education", "--amount", "2018=1 000 000")
    [b] = grants.json("balance", G, "--region", "23", "--year", "2018")
    assert (b["reserved"], b["committed"], b["available"]) == ("1228598.00", "10980000.00", "0.00")
    grants("decide", G, "--region", "23", "--decision", "JH-X", "--decided-by", "Anna Berg",
           "--on", "2018-05-01", "--area", "a", "--activity", "b", "--purpose", "it-admin",
           "--amount", "2018=1", code=1)


def test_rebuild_gives_the_same_answers(grants):
    """`grants rebuild` rebuilds the read models from position 0; queries answer the same."""
    jamtland(grants)
    before = grants.json("balance", G), grants.json("commitments", G)
    out = grants("rebuild").stdout
    assert f"from {grants.events()} events" in out or "rebuilt the read models" in out
    assert (grants.json("balance", G), grants.json("commitments", G)) == before
