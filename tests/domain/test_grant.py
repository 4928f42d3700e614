"""Grant: definition, agreements and authorisations."""

import datetime

import pytest

from ledger.errors import Duplicate, Malformed, NotFound, Refused, Unauthorised
from ledger.grant import Grant
from ledger.terms import Agreement

D = datetime.date


def grant() -> Grant:
    return Grant.define("pm", "Professionsmiljarden", 2016, 2018,
                        [["it-admin", "IT"], ["nse", "nurses"]], "3", "9902", "t")


def sign(g: Grant, **over) -> bool:
    fields = dict(year=2018, signed_on=D(2018, 1, 1), pots=[["stimulus", 100], ["nurses", 50]],
                  earmarks=[["nurses", "nse"]], report_due=D(2019, 2, 15), payer="SKL",
                  report_to="Socialstyrelsen", population_date=None, ref="", recorded_by="t")
    fields.update(over)
    recorded_by = fields.pop("recorded_by")
    return g.sign_agreement(Agreement(**fields), recorded_by)


def test_definition_is_validated():
    """A grant needs a name, a forward period and distinct purposes."""
    with pytest.raises(Malformed):
        Grant.define("pm", " ", 2016, 2018, [["a", "b"]], "", "", "t")
    with pytest.raises(Malformed):
        Grant.define("pm", "x", 2018, 2016, [["a", "b"]], "", "", "t")
    with pytest.raises(Malformed):
        Grant.define("pm", "x", 2016, 2018, [], "", "", "t")
    with pytest.raises(Malformed):
        Grant.define("pm", "x", 2016, 2018, [["a", "b"], ["a", "c"]], "", "", "t")


def test_agreement_signed_once_per_year():
    """The same agreement again records nothing; other content for the year is refused."""
    g = grant()
    assert sign(g)
    assert not sign(g)
    with pytest.raises(Duplicate):
        sign(g, pots=[["stimulus", 101], ["nurses", 50]])
    assert g.agreement(2018).total.ore == 150
    with pytest.raises(NotFound):
        g.agreement(2017)


def test_agreement_checks_period_earmarks_and_pots():
    """Years outside the period, earmarks to unknown pots or purposes, empty pots are refused."""
    g = grant()
    with pytest.raises(Refused, match="outside its period"):
        sign(g, year=2019)
    with pytest.raises(Malformed):
        sign(g, earmarks=[["nope", "nse"]])
    with pytest.raises(Refused):
        sign(g, earmarks=[["nurses", "unknown-purpose"]])
    with pytest.raises(Malformed):
        sign(g, pots=[["stimulus", 0]])


def test_decider_authorised_within_dates_only():
    """Authorisation covers its region and its dates, from the first to the last day."""
    g = grant()
    g.authorise("23", "Anna Berg", "hsd", D(2016, 1, 1), D(2017, 12, 31), "t")
    g.check_decider("23", "anna berg", D(2016, 1, 1))
    g.check_decider("23", "Anna Berg", D(2017, 12, 31))
    for region, when in (("23", D(2015, 12, 31)), ("23", D(2018, 1, 1)), ("24", D(2017, 1, 1))):
        with pytest.raises(Unauthorised):
            g.check_decider(region, "Anna Berg", when)
    assert not g.authorise("23", "Anna Berg", "hsd", D(2016, 1, 1), D(2017, 12, 31), "t")
    with pytest.raises(Malformed):
        g.authorise("23", "X", "hsd", D(2017, 1, 1), D(2016, 1, 1), "t")
