"""The command line, driven as cli.md says: every command, its output, and every error path."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from eventsourcing.persistence import IntegrityError

from commands.cli import cli
from ledger.application import GrantLedger
from tests.drivers import DATA, Grants, population_file
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


@pytest.mark.parametrize("args, message", [
    (["balance", G, "--region", "Atlantis"], "unknown region"),
    (["spend", G, "--decision", "D", "--year", "2018", "--amount", "1e6", "--booked-on", "2018-01-01",
      "--object", "9902", "--voucher", "V"], "not an amount"),
    (["spend", G, "--decision", "D", "--year", "2018", "--amount", "1.005", "--booked-on",
      "2018-01-01", "--object", "9902", "--voucher", "V"], "not an amount"),
    (["reserve", G, "--region", "23", "--year", "2018", "--amount", "NaN", "--purpose", "it-admin",
      "--on", "2018-01-01", "--ref", "R"], "not an amount"),
    (["reserve", G, "--region", "23", "--year", "2018", "--amount", "-5", "--purpose", "it-admin",
      "--on", "2018-01-01", "--ref", "R"], "negative"),
    (["reserve", G, "--region", "23", "--year", "2018", "--amount", "5", "--purpose", "it-admin",
      "--on", "2018-02-30", "--ref", "R"], "not a real date"),
    (["decide", G, "--region", "23", "--decision", "D"], "Missing option"),
    (["decide", G, "--region", "23", "--decision", "D", "--decided-by", "x", "--on", "2018-01-01",
      "--area", "a", "--activity", "b", "--purpose", "it-admin", "--amount", "2018"], "YEAR=AMOUNT"),
    (["decide", G, "--region", "23", "--decision", "D", "--decided-by", "x", "--on", "2018-01-01",
      "--area", "a", "--activity", "b", "--purpose", "it-admin", "--amount", "2018=1",
      "--amount", "2018=2"], "given twice"),
    (["allocate", G, "--year", "2018", "--pot", "stimulus"], "exactly one of"),
    (["allocate", G, "--year", "2018", "--pot", "stimulus", "--table", "/nonexistent.csv"], "cannot read"),
    (["--format", "xml", "balance", G], "xml"),
    (["nosuchcommand"], "No such command"),
    (["--db", "mysql://x/y", "balance", G], "postgresql"),
])
def test_malformed_input_exits_2_and_records_nothing(grants, args, message):
    """Unparsable amounts, dates, regions, files and usage errors: exit 2, one error line, no write."""
    jamtland(grants)
    before = grants.events()
    assert before > 0
    result = grants(*args, code=2)
    assert message in result.stderr
    assert grants.events() == before


def test_malformed_files_exit_2(grants, tmp_path):
    """A table with a bad amount, an unknown region or a repeated region is refused whole."""
    define(grants)
    before = grants.events()
    assert before > 0
    for body, message in [
        ("region,amount\n23,12.345\n", "line 2"),
        ("region,amount\n23,100\nNarnia,5\n", "unknown region"),
        ("23,100\n23,5\n", "appears twice"),
        ("", "is empty"),
        ("region,amount\n23\n", "expected region,amount"),
    ]:
        path = tmp_path / "t.csv"
        path.write_text(body, encoding="utf-8")
        result = grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--table", str(path), code=2)
        assert message in result.stderr
    assert grants.events() == before


@pytest.mark.parametrize("args, message", [
    (["reserve", G, "--region", "23", "--year", "2018", "--amount", "2228598.01",
      "--purpose", "nurse-specialist-education", "--on", "2018-04-06", "--ref", "R"],
     "would leave 2018 available at -0.01"),
    (["decide", G, "--region", "23", "--decision", "NEW", "--decided-by", "Anna Berg", "--on",
      "2018-01-01", "--area", "a", "--activity", "b", "--purpose", "it-admin", "--amount",
      "2018=2 228 599"], "would leave 2018 available at -1.00"),
    (["decide", G, "--region", "23", "--decision", "NEW", "--decided-by", "Mallory", "--on",
      "2018-01-01", "--area", "a", "--activity", "b", "--purpose", "it-admin", "--amount", "2018=1"],
     "not authorised"),
    (["decide", G, "--region", "23", "--decision", "JH-PM-01", "--decided-by", "Anna Berg", "--on",
      "2018-01-01", "--area", "a", "--activity", "b", "--purpose", "it-admin", "--amount", "2018=1"],
     "already exists"),
    (["decide", G, "--region", "23", "--decision", "NEW", "--decided-by", "Anna Berg", "--on",
      "2018-01-01", "--area", "a", "--activity", "b", "--purpose", "fishing", "--amount", "2018=1"],
     "not a purpose"),
    (["decide", G, "--region", "23", "--decision", "NEW", "--decided-by", "Anna Berg", "--on",
      "2018-01-01", "--area", "a", "--activity", "b", "--purpose", "it-admin", "--amount", "2019=1"],
     "outside its period"),
    (["spend", G, "--decision", "NOPE", "--year", "2018", "--amount", "1", "--booked-on",
      "2018-01-01", "--object", "9902", "--voucher", "V"], "unknown decision"),
    (["spend", G, "--decision", "JH-PM-11", "--year", "2018", "--amount", "120000.01", "--booked-on",
      "2018-01-01", "--object", "9902", "--voucher", "V"], "remaining at -0.01"),
    (["reverse", G, "--voucher", "NOPE", "--on", "2018-01-01", "--reason", "x"], "unknown voucher"),
    (["requisition", G, "--region", "23", "--year", "2018", "--pot", "stimulus", "--amount",
      "8357305.01", "--on", "2018-03-01", "--ref", "R"], "exceed the allocation by 0.01"),
    (["repay", G, "--region", "23", "--year", "2018", "--amount", "2228598.01", "--on", "2018-03-01",
      "--ref", "R"], "revoke or amend"),
    (["balance", "nosuchgrant"], "unknown grant"),
    (["allocate", G, "--year", "2018", "--pot", "stimulus", "--region", "23", "--amount", "1"],
     "already has 8 357 305.00 allocated"),
])
def test_refusals_exit_1_with_the_figures_and_record_nothing(grants, args, message):
    """Forbidden commands: exit 1, one error line with the figures, the store unchanged."""
    jamtland(grants)
    before = grants.events()
    assert before > 0
    result = grants(*args, code=1)
    assert message in result.stderr
    assert grants.events() == before


def test_closed_year_and_shortfall_refusals(grants):
    """A closed year refuses new facts; an allocation below commitments blocks new ones."""
    define(grants)
    grants("authorise", G, "--region", "23", "--person", "Anna Berg")
    grants("frame", G, "--region", "23", "--year", "2018", "--amount", "10000000", "--on", "2016-03-01")
    grants("decide", G, "--region", "23", "--decision", "A", "--decided-by", "Anna Berg", "--on",
           "2016-04-01", "--area", "a", "--activity", "b", "--purpose", "it-admin",
           "--amount", "2018=9 000 000")
    grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--region", "23", "--amount", "8357305")
    [b] = grants.json("balance", G, "--region", "23", "--year", "2018")
    assert (b["shortfall"], b["available"]) == ("642695.00", "0.00")
    r = grants("decide", G, "--region", "23", "--decision", "B", "--decided-by", "Anna Berg", "--on",
               "2018-04-01", "--area", "a", "--activity", "b", "--purpose", "it-admin",
               "--amount", "2018=1", code=1)
    assert "shortfall of 642 695.00" in r.stderr
    grants("amend", G, "--decision", "A", "--amount", "2018=8 357 305", "--decided-by", "Anna Berg",
           "--on", "2018-02-01", "--reason", "allocation lower than frame")
    [b] = grants.json("balance", G, "--region", "23", "--year", "2018")
    assert b["shortfall"] == "0.00"
    grants("close", G, "--region", "23", "--year", "2018", "--on", "2019-03-01")
    r = grants("repay", G, "--region", "23", "--year", "2018", "--amount", "1", "--on", "2019-03-02",
               "--ref", "R", code=1)
    assert "closed" in r.stderr


def test_conflict_exits_3_and_records_nothing(grants, monkeypatch):
    """A writer that keeps conflicting gives up with exit code 3."""
    jamtland(grants)
    before = grants.events()
    assert before > 0

    def conflict(self, *aggregates, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(GrantLedger, "save", conflict)
    monkeypatch.setattr(GrantLedger, "retry_budget", 0.2)
    r = grants("reserve", G, "--region", "23", "--year", "2018", "--amount", "1",
               "--purpose", "it-admin", "--on", "2018-04-06", "--ref", "R", code=3)
    assert "gave up" in r.stderr
    assert grants.events() == before


def test_unreachable_postgres_is_a_clear_error(grants):
    """A store that cannot be reached is one error line, not a traceback."""
    r = grants("--db", "postgresql://nobody@127.0.0.1:1/none", "balance", G, code=2)
    assert "cannot use the store" in r.stderr


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


def test_queries_never_create_a_ledger(tmp_path):
    """A query on a mistyped SQLite path is an error, and no file appears."""
    missing = tmp_path / "typo.sqlite"
    r = Grants(str(missing))("balance", G, code=2)
    assert "no ledger at" in r.stderr and not missing.exists()


@pytest.mark.parametrize("content", [b"this is not a database, just text\n" * 100, b""])
def test_a_file_that_is_not_a_ledger_is_a_clear_error(tmp_path, content):
    """A --db that is not an SQLite ledger gives one error line and exit 2."""
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    if content:
        r = Grants(str(path))("balance", G, code=2)
        assert "is not a grants ledger" in r.stderr and path.read_bytes() == content
    r = Grants("")("balance", G, code=2)
    assert "--db is empty" in r.stderr


def test_files_in_other_encodings_and_huge_numbers_are_malformed(grants, tmp_path):
    """Latin-1 CSV, broken CSV and absurdly long numbers are exit 2, never a traceback."""
    define(grants)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("region,amount\nJämtland,100\n".encode("latin-1"))
    assert "not UTF-8" in grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--table",
                                 str(latin1), code=2).stderr
    pop = tmp_path / "pop.csv"
    pop.write_text("region,population\n23," + "9" * 5000 + "\n", encoding="utf-8")
    grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--by-population", str(pop), code=2)
    r = grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--region", "23",
               "--amount", "9" * 5000, code=2)
    assert "too large" in r.stderr


def test_pots_are_never_over_allocated(grants, tmp_path):
    """All regions' allocations from a pot stay within the pot, to the öre."""
    define(grants)
    grants("allocate", G, "--year", "2018", "--pot", "nurse-education", "--region", "23",
           "--amount", "299 999 999.99")
    r = grants("allocate", G, "--year", "2018", "--pot", "nurse-education", "--region", "24",
               "--amount", "0.02", code=1)
    assert "beyond the pot's 300 000 000.00 by 0.01" in r.stderr
    grants("allocate", G, "--year", "2018", "--pot", "nurse-education", "--region", "24", "--amount", "0.01")
    pop = tmp_path / "pop.csv"
    population_file(pop, {"01": 1, "03": 1})
    r = grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--by-population", str(pop),
               "--amount", "999999999", code=1)
    assert "beyond the pot's 651 000 000.00" in r.stderr


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


def test_history_of_an_unknown_decision_is_refused(grants):
    """Asking for the history of a decision that does not exist is exit 1."""
    jamtland(grants)
    assert "unknown decision" in grants("history", G, "--decision", "NOPE", code=1).stderr


def test_rebuild_gives_the_same_answers(grants):
    """`grants rebuild` rebuilds the read models from position 0; queries answer the same."""
    jamtland(grants)
    before = grants.json("balance", G), grants.json("commitments", G)
    out = grants("rebuild").stdout
    assert f"from {grants.events()} events" in out or "rebuilt the read models" in out
    assert (grants.json("balance", G), grants.json("commitments", G)) == before
