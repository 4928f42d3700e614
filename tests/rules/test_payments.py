"""Payments (utbetalning): what the payer paid out, never more than a pot's requisitions."""

import pytest

from ledger.errors import Closed, Duplicate, Insufficient
from ledger.values import Amount
from tests.drivers import D, Grants, kr
from tests.jamtland import G, jamtland, setup_jamtland


def test_paid_stays_within_each_pots_requisitions_and_retries_are_unchanged(app):
    """Up to the requisitioned amount and not one öre more, per pot; the same ref again records nothing."""
    setup_jamtland(app)
    app.requisition("pm", "23", 2018, "stimulus", kr(1000), D(2018, 3, 1), "R1", "t")
    assert app.pay("pm", "23", 2018, "stimulus", kr(600), D(2018, 3, 20), "P1", "t")
    assert app.pay("pm", "23", 2018, "stimulus", kr(600), D(2018, 3, 20), "P1", "t") is False
    with pytest.raises(Insufficient, match="would exceed the requisitions by 0.01"):
        app.pay("pm", "23", 2018, "stimulus", kr(400) + Amount(1), D(2018, 3, 21), "P2", "t")
    assert app.pay("pm", "23", 2018, "stimulus", kr(400), D(2018, 3, 21), "P2", "t")
    with pytest.raises(Insufficient):
        app.pay("pm", "23", 2018, "nurse-education", kr(1), D(2018, 3, 21), "P3", "t")
    with pytest.raises(Duplicate, match="already used"):
        app.pay("pm", "23", 2018, "stimulus", kr(1), D(2018, 3, 21), "R1", "t")
    assert app.region_year("pm", "23", 2018).paid == kr(1000)
    app.close_year("pm", "23", 2018, D(2019, 3, 1), "t")
    with pytest.raises(Closed):
        app.pay("pm", "23", 2018, "stimulus", kr(1), D(2019, 3, 2), "P4", "t")


def test_a_payment_shows_in_balance_history_and_survives_export_and_import(grants, tmp_path):
    """`grants pay` records once; balance's JSON has paid; verify and import re-check the event."""
    jamtland(grants)
    grants("requisition", G, "--region", "23", "--year", "2018", "--pot", "stimulus", "--amount", "8357305",
           "--on", "2018-03-01", "--ref", "R1")
    assert "recorded" in grants("pay", G, "--region", "23", "--year", "2018", "--pot", "stimulus",
                                "--amount", "8 000 000", "--on", "2018-03-20", "--ref", "P1").stdout
    assert grants.json("balance", G, "--region", "23", "--year", "2018")[0]["paid"] == "8000000.00"
    assert grants.json("balance", G, "--position", "1000")[0]["paid"] == "8000000.00"  # the fold agrees
    assert any(e["type"] == "paid" for e in grants.json("history", G, "--region", "23"))
    grants("export", "--output", str(tmp_path / "l.jsonl"))
    copy = Grants(str(tmp_path / "copy.sqlite"))
    copy("import", str(tmp_path / "l.jsonl"))
    assert copy.json("balance", G) == grants.json("balance", G)
    assert "the history holds" in copy("verify").stdout
