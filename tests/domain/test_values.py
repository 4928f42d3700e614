"""Value objects: exact amounts, regions, years, dates."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import Malformed
import attrs

from ledger.values import Amount, Purpose, Region, amount_of, parse_date, parse_year, parse_year_range, total


@pytest.mark.parametrize("text, ore", [
    ("8357305", 835730500),
    ("8 357 305", 835730500),
    ("8357305.50", 835730550),
    ("8 357 305,50", 835730550),
    ("8357305 kr", 835730500),
    ("8357305,5", 835730550),
    ("0.01", 1),
    ("8\u00a0357\u00a0305", 835730500),
    ("-120 000", -12000000),
])
def test_amount_parses_every_documented_form(text, ore):
    """Every amount form of cli.md parses to the exact öre."""
    assert Amount.parse(text) == Amount(ore)


@pytest.mark.parametrize("text", [
    "8357305.505", "1e6", "1E3", "NaN", "nan", "inf", "-inf", "Infinity", "", "abc",
    "8,357,305", "8 35 7305", "12.", ".5", "1 2", "0x10", "١٢٣",
])
def test_amount_refuses_malformed(text):
    """More than two decimals, exponents, NaN, infinities and non-numbers are refused."""
    with pytest.raises(Malformed):
        Amount.parse(text)


def test_amount_formats():
    """People read one form everywhere (grouped, decimal comma, öre only where there are any); JSON has two decimals."""
    a = Amount.parse("2228598")
    assert (a.pretty(), a.plain(), str(a)) == ("2 228 598", "2228598.00", "2 228 598")
    b = Amount(-12000050)
    assert (b.pretty(), b.plain(), str(b)) == ("-120 000,50", "-120000.50", "-120 000,50")


@given(st.integers(min_value=0, max_value=10**15))
def test_amount_plain_and_pretty_round_trip(ore):
    """Both printed forms parse back to the same amount."""
    a = Amount(ore)
    assert Amount.parse(a.plain()) == a
    assert Amount.parse(a.pretty()) == a


def test_amount_refuses_floats_and_bools():
    """An amount holds integer öre only: never a float."""
    with pytest.raises(TypeError):
        Amount(1.5)
    with pytest.raises(TypeError):
        Amount(True)


@given(st.integers(min_value=-10**17, max_value=10**17), st.integers(min_value=-10**17, max_value=10**17))
def test_arithmetic_gives_the_same_amounts_as_the_checked_constructor(a, b):
    """Sums, differences, negations and totals (made without the validators' calls) are
    amounts equal, ordered and hashed as ``Amount`` makes them, and as frozen."""
    x, y = Amount(a), Amount(b)
    for made, ore in [(x + y, a + b), (x - y, a - b), (-x, -a), (total([x, y]), a + b), (amount_of(a), a)]:
        assert type(made) is Amount and made == Amount(ore) and hash(made) == hash(Amount(ore))
        assert (made < Amount(ore + 1)) and repr(made) == repr(Amount(ore))
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            made.ore = 0


def test_amount_of_refuses_what_amount_refuses():
    """``amount_of`` takes whole numbers only: a bool or a float is refused as ``Amount`` refuses it."""
    for bad in (True, 1.5, "1"):
        with pytest.raises(TypeError):
            amount_of(bad)


@pytest.mark.parametrize("text", [
    "23", "Jämtland", "jamtland", "JÄMTLAND", "Region Jämtland Härjedalen", "jamtland harjedalen",
    "Jämtlands län",
])
def test_region_matches_codes_and_names(text):
    """A region is found by code or by name, case- and diacritic-insensitively."""
    assert Region.parse(text).code == "23"


def test_region_short_code_and_other_names():
    """`1` means `01`; official names of other regions match too."""
    assert Region.parse("1").code == "01"
    assert Region.parse("Västra Götalandsregionen").code == "14"
    assert Region.parse("orebro").code == "18"
    assert Region.parse("Region Sörmland").code == "04"
    assert len(Region.all()) == 21


@pytest.mark.parametrize("text", ["02", "99", "Atlantis", "", "Region"])
def test_region_refuses_unknown(text):
    """Codes with no county and unknown names are malformed input."""
    with pytest.raises(Malformed):
        Region.parse(text)


def test_dates_and_years():
    """Dates are strict YYYY-MM-DD; years and ranges are validated."""
    assert parse_date("2019-02-15") == datetime.date(2019, 2, 15)
    for bad in ["2019-02-30", "15/02/2019", "2019-2-15", "tomorrow"]:
        with pytest.raises(Malformed):
            parse_date(bad)
    assert parse_year("2018") == 2018
    assert parse_year_range("2016-2018") == (2016, 2018)
    for bad in ["2018-2016", "20x6", "2016-2017-2018"]:
        with pytest.raises(Malformed):
            parse_year_range(bad)


def test_purpose_parses_code_and_text():
    """A purpose is CODE=TEXT with a lower-case code."""
    assert Purpose.parse("it-admin=IT support") == Purpose("it-admin", "IT support")
    with pytest.raises(Malformed):
        Purpose.parse("IT Admin=x")
    with pytest.raises(Malformed):
        Purpose.parse("it-admin")
