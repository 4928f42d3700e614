"""The command line's error paths, as cli.md says: malformed input exits 2, a refused
command exits 1 with the figures, a conflict exits 3, each with one error line, and
none records anything or creates a ledger."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.application import GrantLedger
from tests.drivers import Grants, population_file
from tests.jamtland import G, define, jamtland


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
     "would leave 2018 available at -0,01"),
    (["decide", G, "--region", "23", "--decision", "NEW", "--decided-by", "Anna Berg", "--on",
      "2018-01-01", "--area", "a", "--activity", "b", "--purpose", "it-admin", "--amount",
      "2018=2 228 599"], "would leave 2018 available at -1"),
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
      "2018-01-01", "--object", "9902", "--voucher", "V"], "remaining at -0,01"),
    (["reverse", G, "--voucher", "NOPE", "--on", "2018-01-01", "--reason", "x"], "unknown voucher"),
    (["requisition", G, "--region", "23", "--year", "2018", "--pot", "stimulus", "--amount",
      "8357305.01", "--on", "2018-03-01", "--ref", "R"], "exceed the allocation by 0,01"),
    (["repay", G, "--region", "23", "--year", "2018", "--amount", "2228598.01", "--on", "2018-03-01",
      "--ref", "R"], "revoke or amend"),
    (["balance", "nosuchgrant"], "unknown grant"),
    (["allocate", G, "--year", "2018", "--pot", "stimulus", "--region", "23", "--amount", "1"],
     "already has 8 357 305 allocated"),
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
    assert "shortfall of 642 695" in r.stderr
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
           "--amount", "299 999 999,99")
    r = grants("allocate", G, "--year", "2018", "--pot", "nurse-education", "--region", "24",
               "--amount", "0.02", code=1)
    assert "beyond the pot's 300 000 000 by 0,01" in r.stderr
    grants("allocate", G, "--year", "2018", "--pot", "nurse-education", "--region", "24", "--amount", "0.01")
    pop = tmp_path / "pop.csv"
    population_file(pop, {"01": 1, "03": 1})
    r = grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--by-population", str(pop),
               "--amount", "999999999", code=1)
    assert "beyond the pot's 651 000 000" in r.stderr


def test_history_of_an_unknown_decision_is_refused(grants):
    """Asking for the history of a decision that does not exist is exit 1."""
    jamtland(grants)
    assert "unknown decision" in grants("history", G, "--decision", "NOPE", code=1).stderr
