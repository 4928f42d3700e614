"""Finding your way (issue 12 §1): `list grants|decisions`, `show grant|decision` on the
Jämtland example, "did you mean" for mistyped names, global options after the command,
and shell completion of the ledger's names."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from commands.cli import cli
from ledger.values import Amount
from tests.drivers import ROOT, RUN_GRANTS, Grants
from tests.jamtland import G, jamtland


@pytest.fixture
def browsed(grants):
    """Jämtland 2018, then on JH-PM-01 a booking, a credit and a booking reversed; JH-PM-02
    amended; JH-PM-11 revoked; a deauthorisation and a region's own accounting object."""
    jamtland(grants)
    grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "125000", "--booked-on",
           "2018-03-31", "--object", "9902", "--voucher", "V-1", "--text", "salary")
    grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount=-2000,50", "--booked-on",
           "2018-04-30", "--object", "9902", "--voucher", "C-1", "--text", "refund")
    grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "999", "--booked-on",
           "2018-05-02", "--object", "9902", "--voucher", "V-2")
    grants("reverse", G, "--voucher", "V-2", "--on", "2018-05-03", "--reason", "wrong decision")
    grants("amend", G, "--decision", "JH-PM-02", "--amount", "2018=200000", "--decided-by", "Anna Berg",
           "--on", "2018-06-01", "--reason", "smaller")
    grants("revoke", G, "--decision", "JH-PM-11", "--decided-by", "Anna Berg", "--on", "2018-06-01",
           "--reason", "stopped")
    grants("deauthorise", G, "--region", "23", "--person", "Anna Berg", "--from", "2019-01-01")
    grants("object", G, "--region", "Västerbotten", "--object", "7710")
    return grants


# ----------------------------------------------------------------------------- list

def test_list_grants_names_every_grant_with_its_period_agreements_and_regions(browsed):
    """Each grant is one row: id, name, period, purposes counted, agreement years, regions with anything recorded."""
    browsed("grant", "define", "aaa-grant", "--name", "Another", "--years", "2019-2020", "--purpose", "x=X")
    rows = browsed.json("list", "grants")
    assert [r["grant"] for r in rows] == ["aaa-grant", G]
    pm = rows[1]
    assert (pm["name"], pm["period"], pm["purposes"], pm["agreements"]) == ("Professionsmiljarden", "2016-2018", 4, [2018])
    assert pm["regions"] == ["23", "24"]  # Jämtland's year and authorisation; Västerbotten's own object
    assert rows[0]["regions"] == [] and rows[0]["agreements"] == []
    table = browsed("list", "grants").stdout
    assert "Professionsmiljarden" in table and "2016-2018" in table
    assert browsed("list", "grants", fmt="csv").stdout.splitlines()[0].startswith("grant,name,period,purposes")


def test_list_decisions_rows_and_filters(browsed):
    """Rows keyed `decision` with who decided, purpose, amount, spent, remaining and status; each filter narrows them."""
    rows = browsed.json("list", "decisions", G)
    assert len(rows) == 11 and [r["decision"] for r in rows] == sorted(r["decision"] for r in rows)
    assert set(rows[0]) >= {"decision", "region", "region_name", "decided_by", "decided_on", "purpose", "area",
                            "activity", "amount", "spent", "remaining", "status"}
    one = {r["decision"]: r for r in rows}["JH-PM-01"]
    spent = Amount.kronor(125000) - Amount.parse("2000,50")
    assert (one["amount"], one["spent"], one["status"]) == ("2500000.00", spent.plain(), "live")
    assert one["remaining"] == (Amount.kronor(2_500_000) - spent).plain()
    assert (one["region"], one["region_name"], one["decided_by"]) == ("23", "Jämtland", "Anna Berg")
    assert [r["decision"] for r in browsed.json("list", "decisions", G, "--status", "amended")] == ["JH-PM-02"]
    [revoked] = browsed.json("list", "decisions", G, "--status", "revoked")
    assert (revoked["decision"], revoked["amount"]) == ("JH-PM-11", "0.00")
    by_purpose = browsed.json("list", "decisions", G, "--purpose", "it-admin")
    assert by_purpose and all(r["purpose"] == "it-admin" for r in by_purpose)
    assert len(browsed.json("list", "decisions", G, "--year", "2018", "--region", "Jämtland")) == 11
    assert browsed.json("list", "decisions", G, "--year", "2017") == []
    assert browsed.json("list", "decisions", G, "--region", "01") == []
    assert browsed("list", "decisions", G, "--region", "01").stdout.strip() == "(no decisions match)"
    table = browsed("list", "decisions", G, "--status", "live").stdout
    assert "JH-PM-01" in table and Amount.kronor(2_500_000).pretty() in table and "JH-PM-02" not in table
    csv_lines = browsed("list", "decisions", G, fmt="csv").stdout.splitlines()
    assert csv_lines[0].startswith("decision,region,decided_by") and len(csv_lines) == 12


# ----------------------------------------------------------------------------- show

def test_show_decision_has_terms_schedule_bookings_credits_reversals_and_their_positions(browsed):
    """`show decision`: terms, each year's figures, every booking, credit and reversal with the
    position of the event that recorded it (the positions `history` lists)."""
    d = browsed.json("show", "decision", G, "JH-PM-01")
    assert (d["decision"], d["region"], d["decided_by"], d["decided_on"], d["purpose"], d["status"]) == (
        "JH-PM-01", "23", "Anna Berg", "2016-04-20", "competence-use", "live")
    assert d["purpose_text"] == "Smarter use" and d["area"] and d["activity"]
    spent = Amount.kronor(125000) - Amount.parse("2000,50")
    [year] = d["schedule"]
    assert (year["year"], year["granted"], year["amount"], year["spent"]) == (2018, "2500000.00", "2500000.00",
                                                                             spent.plain())
    history = {(h["type"], h["summary"]): h["position"] for h in browsed.json("history", G, "--decision", "JH-PM-01")}
    positions = {h["type"]: [] for h in browsed.json("history", G, "--decision", "JH-PM-01")}
    for (kind, _), position in history.items():
        positions[kind].append(position)
    bookings = {b["voucher"]: b for b in d["bookings"]}
    assert set(bookings) == {"V-1", "C-1", "V-2"}
    assert (bookings["V-1"]["kind"], bookings["V-1"]["amount"], bookings["V-1"]["booked_on"],
            bookings["V-1"]["object"], bookings["V-1"]["text"]) == ("cost", "125000.00", "2018-03-31", "9902", "salary")
    assert (bookings["C-1"]["kind"], bookings["C-1"]["amount"]) == ("credit", "-2000.50")
    assert bookings["C-1"]["position"] in positions["credited"]
    assert sorted([bookings["V-1"]["position"], bookings["V-2"]["position"]]) == sorted(positions["spent"])
    assert (bookings["V-2"]["reversed_on"], bookings["V-2"]["reversal_reason"]) == ("2018-05-03", "wrong decision")
    assert [bookings["V-2"]["reversal_position"]] == positions["reversed"]
    assert bookings["V-1"]["reversed_on"] is None
    assert [e["position"] for e in d["events"]] == sorted(p for ps in positions.values() for p in ps
                                                          if p not in positions.get("commitment-set", [])
                                                          and p not in positions.get("voucher-registered", []))
    assert d["amendments"] == [] and d["revocation"] is None
    reversal = next(e for e in d["events"] if e["type"] == "reversed")
    assert (reversal["voucher"], reversal["amount"], reversal["reason"]) == ("V-2", "-999.00", "wrong decision")
    table = browsed("show", "decision", G, "JH-PM-01").stdout
    assert "V-1" in table and "C-1" in table and Amount.kronor(125000).pretty() in table and "wrong decision" in table
    csv_lines = browsed("show", "decision", G, "JH-PM-01", fmt="csv").stdout.splitlines()
    assert csv_lines[0].startswith("position,recorded_at,recorded_by,type") and len(csv_lines) == 1 + len(d["events"])


def test_show_decision_amended_and_revoked(browsed):
    """An amendment shows its new schedule, decider, date, reason and position; a revocation likewise."""
    d = browsed.json("show", "decision", G, "JH-PM-02")
    [amendment] = d["amendments"]
    assert (amendment["on"], amendment["decided_by"], amendment["reason"], amendment["total"]) == (
        "2018-06-01", "Anna Berg", "smaller", "200000.00")
    assert amendment["schedule"] == [{"year": 2018, "amount": "200000.00"}]
    assert amendment["position"] == next(h["position"] for h in browsed.json("history", G, "--decision", "JH-PM-02")
                                         if h["type"] == "amended")
    assert (d["status"], d["amount"], d["schedule"][0]["amount"]) == ("amended", "200000.00", "200000.00")
    r = browsed.json("show", "decision", G, "JH-PM-11")
    assert (r["status"], r["revocation"]["reason"], r["revocation"]["on"], r["amount"]) == (
        "revoked", "stopped", "2018-06-01", "0.00")
    assert "Revocation: revoked by Anna Berg on 2018-06-01 (stopped)" in browsed("show", "decision", G, "JH-PM-11").stdout


def test_show_grant_has_its_agreements_pots_authorisations_and_objects(browsed):
    """`show grant`: period, purposes, each agreement year's terms and amendment, pots with earmarks
    and allocations, authorisations with their effective ends, the regions' own objects."""
    browsed("agreement", "sign", G, "--year", "2018", "--signed-on", "2018-02-01", "--pot", "stimulus=651 000 000",
            "--pot", "nurse-education=300000000 kr", "--earmark", "nurse-education=nurse-specialist-education",
            "--report-due", "2019-02-15", "--report-to", "Socialstyrelsen", "--payer", "SKL",
            "--population-date", "2017-11-01", "--requisition-by", "2018-11-30", "--carry-over", "not-allowed",
            "--report-asks", "measures")
    g = browsed.json("show", "grant", G)
    assert (g["grant"], g["name"], g["years"], g["accounting_object"]) == (G, "Professionsmiljarden",
                                                                          [2016, 2017, 2018], "9902")
    assert [p["purpose"] for p in g["purposes"]] == ["it-admin", "competence-use", "competence-supply",
                                                    "nurse-specialist-education"]
    [a] = g["agreements"]
    assert (a["year"], a["signed_on"], a["amended_on"], a["report_due"], a["report_to"], a["payer"]) == (
        2018, "2018-01-25", "2018-02-01", "2019-02-15", "Socialstyrelsen", "SKL")
    assert (a["requisition_by"], a["repay_unused_by"], a["carry_over"], a["report_asks"]) == (
        "2018-11-30", None, "not-allowed", ["measures"])
    assert a["pots"] == [
        {"pot": "stimulus", "amount": "651000000.00", "earmark": None, "allocated": "8357305.00",
         "unallocated": "642642695.00"},
        {"pot": "nurse-education", "amount": "300000000.00", "earmark": "nurse-specialist-education",
         "allocated": "3851293.00", "unallocated": "296148707.00"}]
    [auth] = g["authorisations"]
    assert (auth["person"], auth["region"], auth["from"], auth["until"]) == ("Anna Berg", "23", "2016-01-01",
                                                                             "2018-12-31")
    assert g["accounting_objects"] == [{"region": "24", "region_name": "Västerbotten", "object": "7710"}]
    assert g["regions"] == ["23", "24"]
    table = browsed("show", "grant", G).stdout
    assert "amended 2018-02-01" in table and "requisition by 2018-11-30" in table and "7710" in table
    assert Amount.kronor(651_000_000).pretty() in table
    csv_lines = browsed("show", "grant", G, fmt="csv").stdout.splitlines()
    assert csv_lines[0].startswith("year,pot,amount,earmark,allocated,unallocated") and len(csv_lines) == 3


def test_show_of_unknown_names_is_refused_with_the_closest(browsed):
    """An unknown grant or decision is refused (exit 1) naming the closest known ones."""
    err = browsed("show", "decision", G, "JH-PM-1", code=1).stderr
    assert "unknown decision 'JH-PM-1'" in err and "did you mean" in err and "'JH-PM-01'" in err
    assert "did you mean 'professionsmiljarden'?" in browsed("show", "grant", "profesionsmiljarden", code=1).stderr
    assert "unknown decision 'NOPE'" in browsed("show", "decision", G, "NOPE", code=1).stderr


# ----------------------------------------------------------------------------- did you mean

@pytest.mark.parametrize("args, code, said", [
    (["balance", "profesionsmiljarden"], 1, "did you mean 'professionsmiljarden'?"),
    (["balance", "profesionsmiljarden", "--position", "5"], 1, "did you mean 'professionsmiljarden'?"),
    (["reserve", "professionsmiljarde", "--region", "23", "--year", "2018", "--amount", "1", "--purpose",
      "it-admin", "--on", "2018-04-06", "--ref", "R"], 1, "did you mean 'professionsmiljarden'?"),
    (["spend", G, "--decision", "JH-PM01", "--year", "2018", "--amount", "1", "--booked-on", "2018-05-01",
      "--object", "9902", "--voucher", "X"], 1, "'JH-PM-01'"),
    (["history", G, "--decision", "jh-pm-01"], 1, "did you mean 'JH-PM-01'?"),
    (["reserve", G, "--region", "23", "--year", "2018", "--amount", "1", "--purpose", "it-admn",
      "--on", "2018-04-06", "--ref", "R"], 1, "did you mean 'it-admin'?"),
    (["list", "decisions", G, "--purpose", "competence-us"], 1, "did you mean 'competence-use'"),
    (["balance", G, "--region", "Jamtlnd"], 2, "did you mean 'Jämtland'?"),
    (["balance", G, "--region", "Vasterbottn"], 2, "did you mean 'Västerbotten'?"),
])
def test_a_mistyped_name_is_told_the_closest_known_names(grants, args, code, said):
    """A mistyped grant, decision, purpose or region: one error line naming the closest, the exit code unchanged."""
    jamtland(grants)
    before = grants.events()
    result = grants(*args, code=code)
    assert said in result.stderr.splitlines()[-1], result.stderr
    assert grants.events() == before


def test_nothing_close_suggests_nothing(grants):
    """A name like none known gets the plain error, without a guess."""
    jamtland(grants)
    assert "did you mean" not in grants("balance", "zzzz", code=1).stderr
    assert "did you mean" not in grants("balance", G, "--region", "Atlantis", code=2).stderr


# ----------------------------------------------------------------------------- options after the command

def _run(*argv: str, env: dict[str, str] | None = None):
    return CliRunner(env=env).invoke(cli, list(argv), catch_exceptions=False)


def test_global_options_after_the_command(grants):
    """--format (table, json, csv) and --db work after the command as before it, --user too."""
    jamtland(grants)
    db = grants.db
    before = _run("--db", db, "--format", "json", "balance", G).stdout
    assert _run("balance", G, "--db", db, "--format", "json").stdout == before
    assert _run("balance", G, "--format=json", "--db=" + db).stdout == before
    assert json.loads(_run("list", "decisions", G, "--region", "23", "--db", db, "--format", "json").stdout)
    csv_out = _run("balance", G, "--region", "23", "--format", "csv", "--db", db).stdout
    assert csv_out.splitlines()[0].startswith("region,region_name,year,allocated")
    table = _run("balance", G, "--db", db, "--format", "table").stdout
    assert Amount.kronor(2_228_598).pretty() in table
    _run("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "5", "--booked-on", "2018-05-01",
         "--object", "9902", "--voucher", "U-1", "--db", db, "--user", "after")
    assert grants.json("history", G, "--decision", "JH-PM-01")[-1]["recorded_by"] == "after"


def test_db_after_the_command_opens_that_ledger(tmp_path, grants):
    """--db after the command opens the ledger it names, not GRANTS_DB's."""
    jamtland(grants)
    other = Grants(str(tmp_path / "other.sqlite"))
    other("grant", "define", "other-grant", "--name", "Other", "--years", "2018", "--purpose", "p=P")
    env = {"GRANTS_DB": grants.db}
    listed = json.loads(_run("list", "grants", "--db", other.db, "--format", "json", env=env).stdout)
    assert [r["grant"] for r in listed] == ["other-grant"]
    assert [r["grant"] for r in json.loads(_run("list", "grants", "--format", "json", env=env).stdout)] == [G]


def test_a_value_is_never_taken_for_a_global_option(grants):
    """A command's own option whose value looks like a global option keeps it; after -- nothing moves."""
    jamtland(grants)
    grants("revoke", G, "--decision", "JH-PM-03", "--decided-by", "Anna Berg", "--on", "2018-06-01",
           "--reason", "--format")
    [row] = grants.json("list", "decisions", G, "--status", "revoked")
    assert row["decision"] == "JH-PM-03"
    assert any("revoked by Anna Berg (--format)" in h["summary"]
               for h in grants.json("history", G, "--decision", "JH-PM-03"))
    result = _run("--db", grants.db, "list", "decisions", G, "--", "--format", "json")
    assert result.exit_code == 2 and "unexpected extra arguments" in result.stderr


def test_a_global_option_without_its_value_says_where_it_goes(grants):
    """`balance G --format` (no value) is a usage error that says where global options go."""
    jamtland(grants)
    result = _run("--db", grants.db, "balance", G, "--format")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: option '--format' needs a value (global options go before or after")


# ----------------------------------------------------------------------------- completion

def _complete(args: list[str], incomplete: str, db: str | None) -> list[str]:
    env = {"GRANTS_DB": db} if db else {}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return [c.value for c in ShellComplete(cli, {}, "grants", "_GRANTS_COMPLETE").get_completions(args, incomplete)]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_completion_of_grants_decisions_purposes_and_regions(browsed):
    """TAB completes grant ids, the typed grant's decision ids and purposes, and regions."""
    db = browsed.db
    assert _complete(["balance"], "prof", db) == [G]
    assert _complete(["--db", db, "balance"], "", None) == [G]
    assert _complete(["show", "decision", G], "JH-PM-1", db) == ["JH-PM-10", "JH-PM-11"]
    assert _complete(["spend", G, "--decision"], "JH-PM-0", db) == [f"JH-PM-0{n}" for n in range(1, 10)]
    assert _complete(["reserve", G, "--purpose"], "competence-", db) == ["competence-supply", "competence-use"]
    assert _complete(["balance", G, "--region"], "jäm", db) == ["Jämtland"]
    assert _complete(["balance", G, "--region"], "2", db) == ["20", "21", "22", "23", "24", "25"]
    assert "Västra-Götaland" in _complete(["balance", G, "--region"], "vas", db)


def test_completion_never_fails_and_never_creates_a_ledger(tmp_path):
    """Without a ledger, or with a file that is not one, completion completes nothing, quietly."""
    missing = str(tmp_path / "missing.sqlite")
    assert _complete(["balance"], "", missing) == []
    assert not os.path.exists(missing)
    text = tmp_path / "notes.txt"
    text.write_text("not a ledger\n")
    assert _complete(["show", "decision", "g"], "", str(text)) == []
    assert text.read_text() == "not a ledger\n"
    assert _complete(["spend", "--decision"], "", missing) == []  # no grant typed yet


def test_completion_through_the_shell_protocol(browsed):
    """`_GRANTS_COMPLETE=bash_complete grants` prints the completions a shell reads; bash_source prints its script."""
    env = {**os.environ, "GRANTS_DB": browsed.db, "_GRANTS_COMPLETE": "bash_complete",
           "COMP_WORDS": f"grants show decision {G} JH-PM-1", "COMP_CWORD": "4"}
    run = subprocess.run([sys.executable, "-c", RUN_GRANTS], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stderr == ""
    assert run.stdout.splitlines() == ["plain,JH-PM-10", "plain,JH-PM-11"]
    env["_GRANTS_COMPLETE"] = "bash_source"
    source = subprocess.run([sys.executable, "-c", RUN_GRANTS], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert source.returncode == 0 and "_GRANTS_COMPLETE=bash_complete" in source.stdout


def test_list_show_and_suggestions_on_both_stores(store):
    """On SQLite and PostgreSQL alike: list, show with positions, and a suggestion for a mistyped decision."""
    grants = Grants(store)
    jamtland(grants)
    grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "100", "--booked-on", "2018-03-31",
           "--object", "9902", "--voucher", "V-1")
    assert [r["grant"] for r in grants.json("list", "grants")] == [G]
    assert len(grants.json("list", "decisions", G)) == 11
    [booking] = grants.json("show", "decision", G, "JH-PM-01")["bookings"]
    spent = next(h for h in grants.json("history", G, "--decision", "JH-PM-01") if h["type"] == "spent")
    assert (booking["voucher"], booking["position"]) == ("V-1", spent["position"])
    assert grants.json("show", "grant", G)["agreements"][0]["year"] == 2018
    err = grants("spend", G, "--decision", "JH-PM01", "--year", "2018", "--amount", "1", "--booked-on",
                 "2018-05-01", "--object", "9902", "--voucher", "X", code=1).stderr
    assert "did you mean 'JH-PM-01'" in err
    grants("decide", G, "--region", "23", "--decision", "NEW-77", "--decided-by", "Anna Berg", "--on", "2018-02-01",
           "--area", "a", "--activity", "b", "--purpose", "it-admin", "--amount", "2018=1")
    err = grants("amend", G, "--decision", "NEW-7", "--amount", "2018=2", "--decided-by", "Anna Berg",
                 "--on", "2018-03-01", "--reason", "r", code=1).stderr  # recorded after the read models' position
    assert "did you mean 'NEW-77'" in err
