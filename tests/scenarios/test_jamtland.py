"""The worked example of domain.md, as a narrative, on SQLite and on PostgreSQL alike.

Region Jämtland Härjedalen, Professionsmiljarden 2018: allocated 8 357 305 + 3 851 293,
decisions from 2016 and 2017 commit 9 980 000, so 2 228 598 remains; the region reserves
it for nurse specialist education, which still leaves 1 622 695 of earmarked money used
elsewhere. Decision dates are illustrative (the memo gives none).
"""

from ledger.application import GrantLedger

from ledger.persistence import store_env
from projections.balances import balance_rows
from projections.fold import entries_of, fold
from tests.jamtland import G, jamtland
from tests.drivers import Grants

def test_jamtland_2018_end_to_end(store):
    """The example reproduces its figures, its refusals and its compliance on every store."""
    grants = Grants(store)
    jamtland(grants)

    [b] = grants.json("balance", G, "--region", "Jämtland", "--year", "2018")
    assert (b["allocated"], b["committed"], b["available"]) == ("12208598.00", "9980000.00", "2228598.00")

    # one öre more than remains is refused, with the figures, and nothing is recorded
    before = grants.events()
    refused = grants("reserve", G, "--region", "23", "--year", "2018", "--amount", "2 228 598,01",
                     "--purpose", "nurse-specialist-education", "--on", "2018-04-06", "--ref", "JH-RES-1",
                     code=1)
    assert "would leave 2018 available at -0,01" in refused.stderr
    assert grants.events() == before

    grants("reserve", G, "--region", "23", "--year", "2018", "--amount", "2 228 598",
           "--purpose", "nurse-specialist-education", "--on", "2018-04-06", "--ref", "JH-RES-1")
    grants("requisition", G, "--region", "23", "--year", "2018", "--pot", "stimulus",
           "--amount", "8357305", "--on", "2018-03-01", "--ref", "JH-REK-1")
    grants("requisition", G, "--region", "23", "--year", "2018", "--pot", "nurse-education",
           "--amount", "3851293", "--on", "2018-03-01", "--ref", "JH-REK-2")
    grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "2500000",
           "--booked-on", "2018-12-31", "--object", "9902", "--voucher", "JH-2018-0001")

    [c] = grants.json("compliance", G, "--region", "23", "--year", "2018", "--on", "2019-02-01")
    assert (c["report_status"], c["status"], c["money_at_risk"]) == ("due", "at-risk", "12208598.00")
    grants("report", G, "--region", "23", "--year", "2018", "--filed-on", "2019-02-14",
           "--covers", "it-admin", "--covers", "competence-use", "--covers", "competence-supply",
           "--patient-units", "--employee-reps")
    [c] = grants.json("compliance", G, "--region", "23", "--year", "2018", "--on", "2019-03-01")
    assert (c["report_status"], c["status"]) == ("filed-on-time", "at-risk")
    assert c["earmarked_used_elsewhere"] == c["money_at_risk"] == "1622695.00"
    assert "1 622 695 at risk: earmarked money used elsewhere" in c["risk_reason"]

    # the fold of the stored events agrees with what the application loads
    app = GrantLedger(env=store_env(store))
    try:
        [row] = balance_rows(fold(entries_of(app)), G, "23", 2018)
        ry = app.region_year(G, "23", 2018)
        assert (row["committed"], row["reserved"], row["available"], row["requisitioned"]) == (
            ry.committed, ry.reserved, ry.available, ry.requisitioned)
        assert row["spent"].plain() == "2500000.00"
    finally:
        app.close()
