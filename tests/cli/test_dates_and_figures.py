"""Dates and figures a controller would expect: digits 0-9 only, shortfalls named, files checked."""

from __future__ import annotations

import datetime
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import Malformed
from ledger.values import Region, parse_date, parse_year, parse_year_range
from tests.drivers import D, kr
from tests.strategies import FOREIGN_DIGITS
from tests.drivers import DATA, population_file
from tests.jamtland import define, G, jamtland
from ledger.terms import Agreement, DecisionTerms



def spelled(text: str, data) -> str:
    """``text`` with at least one of its ASCII digits replaced by another script's digit of the same value."""
    places = [i for i, c in enumerate(text) if c.isdigit()]
    chosen = data.draw(st.sets(st.sampled_from(places), min_size=1))
    out = list(text)
    for i in chosen:
        same = [d for d in FOREIGN_DIGITS if unicodedata.digit(d) == int(text[i])]
        out[i] = data.draw(st.sampled_from(same))
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(year=st.integers(1900, 2199), day=st.dates(datetime.date(1900, 1, 1), datetime.date(2199, 12, 31)),
       data=st.data())
def test_years_and_dates_in_other_scripts_digits_are_malformed(year, day, data):
    """A year or a date with any non-ASCII digit (Arabic-Indic, full-width, Devanagari...) is refused,
    though Python's int() would read it; the same in ASCII parses."""
    assert parse_year(str(year)) == year and parse_date(day.isoformat()) == day
    with pytest.raises(Malformed, match="digits 0-9"):
        parse_year(spelled(str(year), data))
    with pytest.raises(Malformed, match="digits 0-9"):
        parse_date(spelled(day.isoformat(), data))
    with pytest.raises(Malformed, match="digits 0-9"):
        parse_year_range(f"{year}-{spelled(str(year), data)}")


@pytest.mark.parametrize("args", [
    ["balance", G, "--year", "٢٠١٨"],
    ["balance", G, "--year", "２０１８"],
    ["balance", G, "--position", "١٢"],
    ["balance", G, "--as-of", "２０１８-01-01"],
    ["audit", G, "--year", "2018", "--position", "１２"],
    ["verify", "--digest", "sha256:" + "0" * 64, "--position", "١٢"],
    ["compliance", G, "--on", "２０１８-01-01"],
    ["grant", "define", "x", "--name", "X", "--years", "٢٠١٦-2018", "--purpose", "a=b"],
    ["frame", G, "--region", "23", "--year", "2019", "--amount", "1", "--on", "２０１６-01-01"],
    ["decide", G, "--region", "23", "--decision", "D", "--decided-by", "Anna Berg", "--on", "2018-01-01",
     "--area", "a", "--activity", "b", "--purpose", "it-admin", "--amount", "٢٠١٨=100"],
])
def test_non_ascii_digits_on_the_command_line_exit_2(grants, args):
    """--year, --years, --on, --as-of, --amount YEAR=..., --position in another script's digits: exit 2, nothing written."""
    jamtland(grants)
    before = grants.events()
    assert "digits 0-9" in grants(*args, code=2).stderr
    assert grants.events() == before


def test_non_ascii_digits_in_allocation_files_exit_2(grants, tmp_path):
    """A table's amounts or regions and a population file's counts in another script's digits: exit 2."""
    define(grants)
    before = grants.events()
    path = tmp_path / "t.csv"
    for body, option in [("region,amount\n23,١٠٠\n", "--table"), ("region,amount\n٢٣,100\n", "--table"),
                         ("region,population\n" + "".join(f"{r.code},١٠\n" for r in Region.all()),
                          "--by-population")]:
        path.write_text(body, encoding="utf-8")
        r = grants("allocate", G, "--year", "2018", "--pot", "stimulus", option, str(path), code=2)
        assert "line 2" in r.stderr
    assert grants.events() == before


# --------------------------------------------------------------------------- shortfall


def shortfall_of_2_million(grants) -> None:
    """Jämtland commits 3 000 000 for 2017 against a 3 000 000 frame; the state allocates 1 000 000."""
    define(grants)
    grants("agreement", "sign", G, "--year", "2017", "--signed-on", "2017-01-20",
           "--pot", "stimulus=500000000", "--report-due", "2018-03-31")
    grants("authorise", G, "--region", "23", "--person", "Anna Berg", "--from", "2016-01-01")
    grants("frame", G, "--region", "23", "--year", "2017", "--amount", "3000000", "--on", "2016-03-01")
    grants("decide", G, "--region", "23", "--decision", "JH-1", "--decided-by", "Anna Berg",
           "--on", "2016-05-10", "--area", "a", "--activity", "b", "--purpose", "it-admin",
           "--amount", "2017=3000000")


def test_an_allocation_below_the_frame_warns_of_the_shortfall(grants):
    """allocate records the state's allocation (exit 0) and warns on stderr naming region, year and shortfall."""
    shortfall_of_2_million(grants)
    r = grants("allocate", G, "--year", "2017", "--pot", "stimulus", "--region", "23", "--amount", "1000000")
    assert r.stdout.startswith("recorded:")
    assert r.stderr == ("warning: 23 Jämtland 2017 has a shortfall of 2 000 000: 3 000 000 committed "
                        "against 1 000 000 allocated; no new commitment until decisions are amended or "
                        "revoked (see grants compliance)\n")
    ok = grants("allocate", G, "--year", "2017", "--pot", "stimulus", "--region", "24", "--amount", "1000000")
    assert ok.stderr == ""


def test_a_shortfall_is_money_at_risk_in_compliance(grants):
    """compliance names the shortfall as a finding, puts it at risk and makes the row at-risk."""
    shortfall_of_2_million(grants)
    grants("allocate", G, "--year", "2017", "--pot", "stimulus", "--region", "23", "--amount", "1000000")
    grants("requisition", G, "--region", "23", "--year", "2017", "--pot", "stimulus", "--amount", "1000000",
           "--on", "2017-03-01", "--ref", "REK-2017")
    grants("report", G, "--region", "23", "--year", "2017", "--filed-on", "2018-02-01", "--covers", "it-admin",
           "--patient-units", "--employee-reps")
    [c] = grants.json("compliance", G, "--region", "23", "--year", "2017", "--on", "2018-02-02")
    assert (c["status"], c["money_at_risk"]) == ("at-risk", "2000000.00")
    assert c["findings"][0] == ("shortfall of 2 000 000: 3 000 000 committed against 1 000 000 "
                                "allocated; amend or revoke decisions, or the region pays the rest itself")
    assert c["risk_reason"].startswith("2 000 000 at risk: shortfall of 2 000 000")
    grants("amend", G, "--decision", "JH-1", "--amount", "2017=1000000", "--decided-by", "Anna Berg",
           "--on", "2017-09-01", "--reason", "the state gave less")
    [c] = grants.json("compliance", G, "--region", "23", "--year", "2017", "--on", "2018-02-02")
    assert (c["status"], c["money_at_risk"]) == ("ok", "0.00")
    assert not any(f.startswith("shortfall of") for f in c["findings"])


def test_a_shortfall_adds_to_what_else_is_at_risk(app):
    """The money at risk may exceed the allocation by the shortfall (no grant money is behind it)."""
    from projections.compliance import compliance_rows
    from projections.fold import entries_of, fold

    app.define_grant("pm", "PM", 2016, 2018, [["it", "IT"]], "", "", "t")
    app.sign_agreement("pm", Agreement(2017, signed_on=D(2017, 1, 1), pots=[["s", 10**10]], earmarks=[],
                       report_due=D(2018, 3, 31), payer="", report_to="", population_date=None, ref=""),
                       recorded_by="t")
    app.authorise("pm", "23", "Anna", "hsd", None, None, "t")
    app.set_frame("pm", "23", 2017, kr(300), D(2016, 3, 1), "t")
    app.decide("pm", "X", "23", DecisionTerms("Anna", D(2016, 5, 1), "a", "b", "it", {2017: kr(300)}, "", ""), "t")
    app.allocate("pm", 2017, "s", {"23": kr(100)}, "entered", "t")
    [row] = compliance_rows(fold(entries_of(app)), "pm", D(2018, 1, 10), "23", 2017)
    # the report not yet filed puts the allocation (100) at risk, the shortfall 200 more
    assert row["money_at_risk"] == kr(300) and row["status"] == "at-risk"


# --------------------------------------------------------------------------- allocation files


def test_a_population_file_missing_regions_is_refused_naming_them(grants, tmp_path):
    """--by-population needs all 21 regions: a file without some exits 2 naming each one missing."""
    define(grants)
    before = grants.events()
    pop = tmp_path / "pop.csv"
    pop.write_text("region,population\n" + "".join(f"{r.code},1000\n" for r in Region.all()
                                                   if r.code not in ("09", "25")), encoding="utf-8")
    r = grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--by-population", str(pop), code=2)
    assert f"{pop} lacks 2 of the 21 regions: 09 Gotland, 25 Norrbotten" in r.stderr
    assert grants.events() == before
    population_file(pop, {r.code: 1000 for r in Region.all()})
    grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--by-population", str(pop), "--amount", "2100")
    assert len(grants.json("balance", G, "--year", "2018")) == 21


@pytest.mark.parametrize("body, lines", [
    ("12,Stockholm,100\n23,Jämtland,5\n01,Skåne,7\n", ["line 1 (12 is Skåne, not 'Stockholm')",
                                                       "line 3 (01 is Stockholm, not 'Skåne')"]),
    ("region,region_name,amount\n23,Jämtland,5\n12,Stockholm,100\n", ["line 3 (12 is Skåne, not 'Stockholm')"]),
    ("code,name,amount\n23,Atlantis,5\n", ["line 2 (23 is Jämtland, not 'Atlantis')"]),
])
def test_a_table_whose_names_contradict_its_codes_is_refused_naming_the_lines(grants, tmp_path, body, lines):
    """A region name beside a code must be that code's region: every contradicting line is named, exit 2."""
    define(grants)
    before = grants.events()
    path = tmp_path / "t.csv"
    path.write_text(body, encoding="utf-8")
    r = grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--table", str(path), code=2)
    assert "the region's name contradicts its code on " + ", ".join(lines) in r.stderr
    assert grants.events() == before


@pytest.mark.parametrize("body", [
    "region,amount\n23,100\n12,200\n", "23,100\n12,200\n", "23,100,a note\n12,200,another\n",
    "12,Skåne,200\n23,Region Jämtland Härjedalen,100\n", "name,amount\nJämtland,100\nSkåne,200\n",
    "region,region_name,amount\n23,Jämtland,100\n12,Skåne,200\n",
])
def test_table_forms_that_agree_load(grants, tmp_path, body):
    """The existing forms (header region,amount or headerless) and agreeing names beside codes load."""
    define(grants)
    path = tmp_path / "t.csv"
    path.write_text(body, encoding="utf-8")
    grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--table", str(path))
    alloc = {r["region"]: r["allocated"] for r in grants.json("balance", G, "--year", "2018")}
    assert alloc == {"12": "200.00", "23": "100.00"}


def test_the_shipped_table_names_agree_with_its_codes(grants):
    """commands/data/allocation-2016.csv (header region,region_name,amount) passes the name check."""
    define(grants)
    grants("agreement", "sign", G, "--year", "2016", "--signed-on", "2016-01-28",
           "--pot", "stimulus=1000000000", "--report-due", "2017-03-31")
    grants("allocate", G, "--year", "2016", "--pot", "stimulus", "--table", str(DATA / "allocation-2016.csv"))
