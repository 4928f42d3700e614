"""Read at a glance: one money format for people, totals rows, whole text on --wide,
budget against actual, and figures by effective date (--until)."""

import re

from commands.render import as_table, with_totals
from ledger.values import Amount, plural
from tests.jamtland import G, jamtland


def book(grants, decision, amount, day, voucher):
    grants("spend", G, "--decision", decision, "--year", "2018", "--amount", amount, "--booked-on", day,
           "--object", "9902", "--voucher", voucher)


def test_people_read_one_money_format_and_scripts_another(grants):
    """Messages, findings and tables group with spaces and a decimal comma; JSON keeps "x.xx"."""
    jamtland(grants)
    refused = grants("reserve", G, "--region", "23", "--year", "2018", "--amount", "2228598.01",
                     "--purpose", "nurse-specialist-education", "--on", "2018-04-06", "--ref", "R", code=1)
    assert "cannot reserve 2 228 598,01" in refused.stderr and "available at -0,01" in refused.stderr
    assert not re.search(r"\d\.\d\d\b", refused.stderr)
    [row] = grants.json("compliance", G, "--region", "23", "--year", "2018", "--on", "2019-03-01")
    assert row["money_at_risk"] == "12208598.00"
    assert all(not re.search(r"\d \d{3}\.\d\d", f) for f in row["findings"])


def test_findings_never_stand_right_after_a_region_code(grants):
    """compliance and audit head each region-year's findings, so "23" is never read as part of an amount."""
    jamtland(grants)
    for out in (grants("compliance", G, "--year", "2018", "--on", "2019-03-01").stdout,
                grants("audit", G, "--year", "2018").stdout):
        assert "\n23 Jämtland 2018:\n  - " in out
        assert not re.search(r"- 23 \d", out)


def test_tables_that_add_up_end_with_a_totals_row(grants):
    """commitments sums amount, spent and remaining under a rule; a single row gets no totals row."""
    jamtland(grants)
    book(grants, "JH-PM-01", "1000", "2018-03-01", "V1")
    lines = grants("commitments", G, "--year", "2018").stdout.splitlines()
    assert lines[-2].startswith("--------") and lines[-1].startswith("total")
    assert lines[-1].split()[1:] == ["9", "980", "000", "1", "000", "9", "979", "000"]
    one = grants("balance", G, "--region", "23", "--year", "2018").stdout
    assert "total" not in one and "paid" in one.splitlines()[0] and "closed" in one.splitlines()[0]


def test_totals_sum_exactly_and_share_is_recomputed():
    """A totals row sums to the öre and the share used is the total's, not a sum of shares."""
    rows = [{"k": "a", "decided": Amount(100), "spent": Amount(1), "used_percent": 1.0},
            {"k": "b", "decided": Amount(300), "spent": Amount(299), "used_percent": 99.7}]
    columns = [("k", "k"), ("decided", "decided"), ("spent", "spent"), ("used_percent", "%")]
    total = with_totals(rows, columns)[-1]
    assert (total["decided"], total["spent"], total["used_percent"]) == (Amount(400), Amount(300), 75.0)
    assert as_table(with_totals(rows, columns), columns).splitlines()[-1].split() == ["total", "4", "3", "75,0"]


def test_long_text_is_cut_unless_wide(grants):
    """An activity longer than a table cell is cut with … and shown whole with --wide."""
    jamtland(grants)
    cut = grants("commitments", G, "--region", "23").stdout
    assert "Apotekare klinik och COSMIC, Delprojektleda…" in cut
    whole = grants("--wide", "commitments", G, "--region", "23").stdout
    assert "Apotekare klinik och COSMIC, Delprojektledare bemanningsprojekt" in whole


def test_budget_against_actual_by_area_and_quarter_with_totals(grants):
    """budget sums decided and spent per area, the share used, spending per quarter by booking date."""
    jamtland(grants)
    book(grants, "JH-PM-04", "50000", "2018-02-10", "V1")
    book(grants, "JH-PM-05", "100000", "2018-05-10", "V2")
    book(grants, "JH-PM-05", "20000", "2018-11-10", "V3")
    rows = grants.json("budget", G, "--year", "2018", "--region", "23", "--by", "area", "--quarters")
    [primary] = [r for r in rows if r["area"] == "Primärvård"]
    assert (primary["decided"], primary["spent"], primary["remaining"], primary["used_percent"]) == (
        "750000.00", "170000.00", "580000.00", 22.7)
    assert (primary["2018-Q1"], primary["2018-Q2"], primary["2018-Q3"], primary["2018-Q4"]) == (
        "50000.00", "100000.00", "0.00", "20000.00")
    table = grants("budget", G, "--year", "2018", "--region", "23", "--by", "area").stdout
    assert table.splitlines()[-1].split()[:9] == ["total", "9", "980", "000", "170", "000", "9", "810", "000"]
    months = grants.json("budget", G, "--year", "2018", "--by", "decision", "--months")
    assert [k for k in months[0] if re.fullmatch(r"2018-\d\d", k)] == [f"2018-{m:02d}" for m in range(1, 13)]


def test_until_counts_what_had_taken_effect_by_then(grants):
    """--until takes bookings dated by then and not reversed by then; --as-of is another question."""
    jamtland(grants)
    book(grants, "JH-PM-01", "1000", "2018-03-01", "V1")
    book(grants, "JH-PM-01", "2000", "2018-09-01", "V2")
    grants("reverse", G, "--voucher", "V1", "--on", "2018-10-01", "--reason", "wrong")
    def spent(*extra):
        return grants.json("balance", G, "--region", "23", "--year", "2018", *extra)[0]["spent"]
    assert (spent("--until", "2018-06-30"), spent("--until", "2018-09-30"), spent()) == (
        "1000.00", "3000.00", "2000.00")
    [c] = [r for r in grants.json("commitments", G, "--year", "2018", "--until", "2018-06-30")
           if r["decision"] == "JH-PM-01"]
    assert (c["spent"], c["remaining"]) == ("1000.00", "2499000.00")
    assert grants.json("commitments", G, "--year", "2018", "--until", "2016-01-01") == []  # nothing decided yet
    budget = grants.json("budget", G, "--year", "2018", "--until", "2018-09-30", "--position", "1000")
    assert sum(float(r["spent"]) for r in budget) == 3000.0


def test_counts_read_as_words():
    """One pot, two pots: no "(s)"."""
    assert (plural(1, "pot"), plural(2, "pot"), plural(0, "region")) == ("1 pot", "2 pots", "0 regions")


def test_a_narrow_terminal_leaves_out_spare_columns_and_says_which():
    """Too wide for the terminal, a table drops the columns one can do without (never a figure) and names them."""
    from commands.render import BALANCE_COLUMNS
    figures = ("allocated", "requisitioned", "committed", "reserved", "spent", "available", "shortfall",
               "paid", "repaid")
    rows = [{"region": "23", "region_name": "Jämtland", "year": 2018, "frame": None, "closed": False,
             **{k: Amount(1234567800) for k in figures}}]
    narrow = as_table(rows, BALANCE_COLUMNS, width=100).splitlines()
    assert all(len(line) <= 100 for line in narrow[:3])
    assert narrow[0].split() == ["region", "year", "allocated", "requisitioned", "committed", "reserved", "spent",
                                 "available", "shortfall"]
    assert narrow[-1] == ("(left out to fit the terminal: name, frame, paid, repaid, closed; "
                          "--wide shows every column)")
    assert "closed" in as_table(rows, BALANCE_COLUMNS, width=100, wide=True).splitlines()[0]
    assert "closed" in as_table(rows, BALANCE_COLUMNS).splitlines()[0]  # not a terminal: every column
