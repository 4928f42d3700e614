"""PostgreSQL: the same ledger through eventsourcing's postgres module."""

import datetime

import pytest

from ledger.application import GrantLedger

from ledger.persistence import store_env
from ledger.errors import Insufficient
from tests.drivers import kr
from tests.jamtland import setup_jamtland
from tests.jamtland import G
from tests.drivers import Grants
from ledger.terms import DecisionTerms

D = datetime.date


def test_demo_on_postgres_is_idempotent(pg_url):
    """`grants demo` loads once on PostgreSQL and a second run adds nothing."""
    grants = Grants(pg_url)
    first = grants("demo", "--on", "2019-02-01")
    assert "2 228 598" in first.stdout
    count = grants.events()
    assert "nothing new" in grants("demo").stdout
    assert grants.events() == count
    [b] = grants.json("balance", G, "--region", "23", "--year", "2018")
    assert b["committed"] == "9980000.00"


def test_concurrent_writers_on_postgres_are_serialised(pg_url):
    """Two writers on one PostgreSQL store: the loser reloads and the rules still hold."""
    first = GrantLedger(env=store_env(pg_url))
    second = GrantLedger(env=store_env(pg_url))
    try:
        setup_jamtland(first)
        real_save = first.save
        rival = []

        def save_after_a_rival(*aggregates, **kwargs):
            if not rival:
                rival.append(second.decide("pm", "RIVAL", "23", DecisionTerms("Director", D(2017, 1, 1), "A", "B",
                                           "it-admin", {2018: kr(10_000_000)}, "", ""), "t"))
            return real_save(*aggregates, **kwargs)

        first.save = save_after_a_rival
        with pytest.raises(Insufficient):
            first.decide("pm", "MINE", "23", DecisionTerms("Director", D(2017, 1, 1), "A", "B", "it-admin",
                         {2018: kr(3_000_000)}, "", ""), "t")
        assert second.region_year("pm", "23", 2018).committed == kr(10_000_000)
    finally:
        first.close()
        second.close()
