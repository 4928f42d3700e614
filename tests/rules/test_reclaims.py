"""The state's reclaims (återkrav): the debt they create, what settles it, and its interest."""

import datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.debts import Debt, Settlement, one_month_after, parse_rate, round_ore
from ledger.errors import Duplicate, Insufficient, Malformed, NotFound, Refused
from ledger.values import Amount
from projections.compliance import compliance_rows
from projections.debts import reclaim_rows, year_end_rows
from projections.fold import entries_of, fold
from tests.drivers import D, Grants, kr
from tests.jamtland import G, jamtland, setup_jamtland


def test_one_month_after_keeps_the_day_or_takes_the_months_last():
    """Interest starts one calendar month after the decision: 31 January gives the last of February."""
    assert one_month_after(D(2018, 1, 31)) == D(2018, 2, 28)
    assert one_month_after(D(2020, 1, 31)) == D(2020, 2, 29)
    assert one_month_after(D(2018, 12, 15)) == D(2019, 1, 15)


def test_a_rate_is_a_plain_percentage():
    """4,5 and "4.50 %" are the same rate; words, negatives and five decimals are not rates."""
    assert parse_rate("4,5") == parse_rate("4.50 %") == "4.5"
    assert parse_rate("2") == "2"
    for bad in ("four", "-1", "101", "1.00001", "1e2", "٤"):
        with pytest.raises(Malformed):
            parse_rate(bad)


def reference_interest(debt: Debt, on: datetime.date) -> int:
    """Interest the slow way: every day from the start up to ``on``, on that day's principal at that day's rate."""
    total = Fraction(0)
    day = debt.interest_from
    while day < on:
        owed = debt.amount - sum(s.principal for s in debt.settlements if s.on <= day)
        rate = Fraction(0)
        for start, percent in debt.rates:
            if start <= day:
                rate = Fraction(percent) / 100
        total += owed * rate / 365
        day += datetime.timedelta(days=1)
    paid = sum(s.interest for s in debt.settlements if s.on <= on)
    return max(0, round_ore(total) - paid)


days = st.integers(min_value=0, max_value=900)


@settings(max_examples=150, deadline=None)
@given(amount=st.integers(1, 10**11), due=st.none() | days, rates=st.lists(st.tuples(days, st.decimals(0, 20, places=2)), max_size=3),
       parts=st.lists(st.tuples(days, st.integers(1, 10**10)), max_size=4), on=days)
def test_interest_is_the_day_by_day_sum_exact_to_the_ore(amount, due, rates, parts, on):
    """The segment sum equals a day-by-day sum of principal × rate / 365, rounded once, for any rates and repayments."""
    start = D(2018, 1, 31)
    debt = Debt("K", "unused", start, amount, None if due is None else start + datetime.timedelta(days=due))
    for offset, percent in sorted(rates):
        debt.rates.append((start + datetime.timedelta(days=offset), str(percent)))
    owed = amount
    for offset, part in sorted(parts):
        principal = min(part, owed)
        owed -= principal
        debt.settlements.append(Settlement("repaid", start + datetime.timedelta(days=offset), principal, 0, "r"))
    day = start + datetime.timedelta(days=on)
    assert debt.interest(day) == reference_interest(debt, day)
    assert debt.owed + debt.repaid + debt.waived == debt.amount


def test_a_reclaim_may_exceed_what_is_available_but_not_what_the_region_keeps(app):
    """The state reclaims spent money too (a shortfall follows), never more than it allocated; a retry is unchanged."""
    setup_jamtland(app)
    allocated = kr(12_208_598)
    with pytest.raises(Insufficient, match="would reclaim 0,01 more than it was given"):
        app.reclaim("pm", "23", 2018, allocated + Amount(1), D(2019, 6, 14), "not-for-purpose", "K1", "t")
    assert app.reclaim("pm", "23", 2018, kr(200_000), D(2019, 6, 14), "unused", "K1", "t")
    assert app.reclaim("pm", "23", 2018, kr(200_000), D(2019, 6, 14), "unused", "K1", "t") is False
    with pytest.raises(Duplicate, match="already used"):
        app.reclaim("pm", "23", 2018, kr(200_001), D(2019, 6, 14), "unused", "K1", "t")
    with pytest.raises(Malformed, match="ground is one of"):
        app.reclaim("pm", "23", 2018, kr(1), D(2019, 6, 14), "bored", "K2", "t")
    ry = app.region_year("pm", "23", 2018)
    assert (ry.funds, ry.available, ry.reclaimed, ry.owed) == (allocated - kr(200_000), allocated - kr(200_000),
                                                               kr(200_000), kr(200_000))
    app.close_year("pm", "23", 2018, D(2019, 3, 1), "t")  # the debt outlives the year
    assert app.reclaim("pm", "23", 2018, allocated - kr(200_000), D(2019, 6, 20), "no-report", "K2", "t")
    assert app.region_year("pm", "23", 2018).available == Amount(0)


def test_repayments_settle_principal_first_then_interest_never_more(app):
    """A repayment pays principal first, then interest accrued by its day; a cent more is refused with the figures."""
    setup_jamtland(app)
    app.reclaim("pm", "23", 2018, kr(100_000), D(2019, 1, 31), "unused", "K1", "t", rate="4")
    # interest from 2019-02-28; by 2019-03-30 (30 days): 100 000 × 4 % × 30 / 365 = 328.767... -> 328,77
    with pytest.raises(Insufficient, match=r"100 000 owed and 328,77 interest on 2019-03-30; would repay 0,01 too much"):
        app.settle("pm", "23", 2018, "K1", kr(100_000) + Amount(32_878), D(2019, 3, 30), "P1", "t")
    assert app.settle("pm", "23", 2018, None, kr(100_000) + Amount(32_877), D(2019, 3, 30), "P1", "t")
    debt = app.region_year("pm", "23", 2018).debts["K1"]
    assert (debt.owed, debt.repaid, debt.interest_repaid, debt.interest(D(2020, 1, 1))) == (0, 10_000_000, 32_877, 0)
    with pytest.raises(Refused, match="on or after 2019-03-30"):
        app.waive("pm", "23", 2018, "K1", kr(1), D(2019, 3, 1), "late", "W1", "t")
    with pytest.raises(NotFound, match="no reclaim 'K9'"):
        app.settle("pm", "23", 2018, "K9", kr(1), D(2019, 4, 1), "P2", "t")


def test_a_late_repayment_bears_interest_at_each_rate_in_force(app):
    """Interest runs on the principal owed at the rate of each day; a rate change applies from its day on."""
    setup_jamtland(app)
    app.reclaim("pm", "23", 2018, kr(365_000), D(2019, 5, 1), "unused", "K1", "t", due=D(2019, 6, 1), rate="2")
    app.set_reclaim_rate("pm", "23", 2018, "K1", "3", D(2019, 7, 1), "RATE1", "t")
    with pytest.raises(Refused, match="already changes on 2019-07-01"):
        app.set_reclaim_rate("pm", "23", 2018, "K1", "5", D(2019, 6, 15), "RATE2", "t")
    app.settle("pm", "23", 2018, "K1", kr(165_000), D(2019, 7, 11), "P1", "t")
    debt = app.region_year("pm", "23", 2018).debts["K1"]
    # June: 30 days × 365 000 × 2 % / 365 = 600; 1-10 July: 10 × 365 000 × 3 % / 365 = 300;
    # from 11 July: 200 000 × 3 % / 365 a day, 20 days to 31 July = 328.767... -> 1 228,77
    assert debt.interest(D(2019, 7, 31)) == 122_877
    app.waive("pm", "23", 2018, "K1", kr(200_000), D(2019, 7, 31), "särskilda skäl", "W1", "t")
    app.waive("pm", "23", 2018, "K1", Amount(122_877), D(2019, 7, 31), "särskilda skäl", "W2", "t", interest=True)
    debt = app.region_year("pm", "23", 2018).debts["K1"]
    assert (debt.owed, debt.waived, debt.interest_waived, debt.interest(D(2025, 1, 1))) == (0, 20_000_000, 122_877, 0)
    assert app.region_year("pm", "23", 2018).funds == kr(12_208_598) - kr(165_000)  # the waived money is kept


def test_compliance_names_the_debt_until_it_is_settled(app):
    """Before it is due the debt is at risk, after it a breach with its interest; repaid, it is gone."""
    setup_jamtland(app)
    app.reclaim("pm", "23", 2018, kr(10_000), D(2019, 5, 2), "no-report", "K1", "t", rate="3.65")

    def row(on):
        [r] = compliance_rows(fold(entries_of(app)), "pm", on, "23", 2018)
        return r

    before = row(D(2019, 6, 2))
    assert "10 000 owed to the state, due 2019-06-02: reclaim K1 (no-report, decided 2019-05-02)" in before["findings"]
    after = row(D(2019, 6, 12))  # 10 days × 10 000 × 3,65 % / 365 = 10
    assert "10 000 and 10 interest owed to the state since 2019-06-02: reclaim K1 (no-report, decided 2019-05-02)" \
        in after["findings"]
    assert (after["owed"], after["interest"], after["status"]) == (kr(10_000), kr(10), "non-compliant")
    app.settle("pm", "23", 2018, "K1", kr(10_010), D(2019, 6, 12), "P1", "t")
    settled = row(D(2019, 6, 12))
    assert (settled["owed"], settled["interest"]) == (Amount(0), Amount(0))
    assert not any("owed to the state" in f for f in settled["findings"])
    [line] = reclaim_rows(fold(entries_of(app)), "pm", D(2019, 6, 12))
    assert (line["repaid"], line["interest_paid"], line["owed"]) == (kr(10_000), kr(10), Amount(0))


def test_year_end_liability_is_paid_money_neither_used_repaid_nor_reclaimed(app):
    """Förutbetald intäkt = paid − decided − repaid − (reclaimed − waived), never below zero."""
    setup_jamtland(app)
    app.requisition("pm", "23", 2018, "stimulus", kr(8_357_305), D(2018, 3, 1), "R1", "t")
    app.pay("pm", "23", 2018, "stimulus", kr(8_000_000), D(2018, 3, 20), "P1", "t")
    from ledger.terms import DecisionTerms
    app.decide("pm", "X", "23", DecisionTerms("Director", D(2018, 2, 1), "A", "B", "it-admin",
               {2018: kr(6_000_000)}, "", ""), "t")
    app.repay("pm", "23", 2018, kr(500_000), D(2018, 12, 1), "RP1", "t", pot="stimulus")
    app.reclaim("pm", "23", 2018, kr(300_000), D(2019, 1, 10), "unused", "K1", "t")
    [row] = year_end_rows(fold(entries_of(app)), "pm", "23", 2018)
    assert row["prepaid_income"] == kr(8_000_000 - 6_000_000 - 500_000 - 300_000)
    assert (row["paid"], row["decided"], row["repaid"], row["owed"]) == (kr(8_000_000), kr(6_000_000), kr(500_000),
                                                                          kr(300_000))


def test_the_reclaim_commands_on_the_command_line(grants, tmp_path):
    """reclaim, interest-rate, repay --reclaim, waive: recorded once, shown, re-checked by verify and import."""
    jamtland(grants)
    grants("reclaim", G, "--region", "23", "--year", "2018", "--amount", "100 000", "--decided-on", "2019-01-31",
           "--ground", "unused", "--interest-rate", "4", "--ref", "K1")
    out = grants("reclaim", G, "--region", "23", "--year", "2018", "--amount", "100 000", "--decided-on",
                 "2019-01-31", "--ground", "unused", "--interest-rate", "4", "--ref", "K1")
    assert out.stdout.startswith("unchanged")
    bad = grants("repay", G, "--region", "23", "--year", "2018", "--amount", "100 328,78", "--on", "2019-03-30",
                 "--reclaim", "K1", "--ref", "P1", code=1)
    assert "would repay 0,01 too much" in bad.stderr and "Traceback" not in bad.stderr
    grants("repay", G, "--region", "23", "--year", "2018", "--amount", "50 000", "--on", "2019-03-30",
           "--reclaim", "K1", "--ref", "P1")
    grants("interest-rate", G, "--region", "23", "--year", "2018", "--rate", "5", "--from", "2019-04-01",
           "--ref", "RATE1")
    grants("waive", G, "--region", "23", "--year", "2018", "--amount", "50000", "--on", "2019-04-01",
           "--reason", "särskilda skäl", "--ref", "W1")
    [row] = grants.json("reclaims", G, "--on", "2019-04-01")
    assert (row["reclaimed"], row["repaid"], row["waived"], row["owed"], row["interest"]) == (
        "100000.00", "50000.00", "50000.00", "0.00", "339.73")  # 328,77 + 2 days on 50 000
    [balance] = grants.json("balance", G, "--region", "23", "--year", "2018")
    assert (balance["reclaimed"], balance["waived"]) == ("100000.00", "50000.00")
    assert grants.json("balance", G, "--region", "23", "--year", "2018", "--position", "1000") == [balance]
    assert grants.json("reclaims", G, "--position", "28", "--on", "2019-04-01") == []  # before the reclaim
    audit = grants.json("audit", G, "--year", "2018", "--region", "23")
    assert audit["year_end"][0]["reclaimed"] == "100000.00"
    assert {e["type"] for e in audit["events"]} >= {"reclaimed", "reclaim-repaid", "reclaim-rate-set", "reclaim-waived"}
    csv = grants("--format", "csv", "year-end", G, "--year", "2018").stdout
    assert csv.splitlines()[0] == "region,region_name,year,paid,spent,decided,repaid,reclaimed,waived,owed,prepaid_income"
    grants("export", "--output", str(tmp_path / "l.jsonl"))
    copy = Grants(str(tmp_path / "copy.sqlite"))
    copy("import", str(tmp_path / "l.jsonl"))
    assert "the history holds" in copy("verify").stdout
    assert copy.json("reclaims", G, "--on", "2019-04-01") == [row]
