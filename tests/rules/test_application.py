"""The application service: atomic writes, safe retries, conflicts, multi-year decisions."""


import attrs
import pytest
from eventsourcing.persistence import IntegrityError

from ledger.application import GrantLedger

from ledger.persistence import store_env
from ledger.errors import Conflict, Duplicate, Insufficient, Malformed, NotFound, Refused, Unauthorised
from ledger.values import Amount
from projections.balances import balance_rows
from projections.fold import entries_of, fold
from tests.drivers import D, kr
from tests.jamtland import setup_jamtland
from ledger.terms import DecisionTerms


def test_multi_year_decision_commits_each_year_atomically(app):
    """A decision over three years writes the decision and every year's commitment together."""
    setup_jamtland(app)
    app.set_frame("pm", "23", 2017, kr(5_000_000), D(2016, 3, 1), "t")
    app.set_frame("pm", "23", 2016, kr(1_000_000), D(2016, 3, 1), "t")
    app.decide("pm", "X1", "23", DecisionTerms("Director", D(2016, 5, 1), "A", "B", "it-admin",
               {2016: kr(100), 2017: kr(200), 2018: kr(300)}, "", ""), "t")
    committed = {r["year"]: r["committed"] for r in balance_rows(fold(entries_of(app)), "pm", "23")}
    assert committed == {2016: kr(100), 2017: kr(200), 2018: kr(300)}


def test_refused_multi_year_decision_records_nothing(app):
    """When one year lacks money the whole decision is refused and the store is unchanged."""
    setup_jamtland(app)
    app.set_frame("pm", "23", 2017, kr(100), D(2016, 3, 1), "t")
    before = app.last_position()
    with pytest.raises(Insufficient, match="would leave 2017 available at -0.01"):
        app.decide("pm", "X1", "23", DecisionTerms("Director", D(2016, 5, 1), "A", "B", "it-admin",
                   {2017: kr(100) + Amount(1), 2018: kr(300)}, "", ""), "t")
    assert app.last_position() == before
    with pytest.raises(NotFound):
        app.decision("pm", "X1")


def test_decision_refused_for_unauthorised_wrong_purpose_or_year(app):
    """Only the authorised director, a purpose of the grant and years of its period are accepted."""
    setup_jamtland(app)
    terms = DecisionTerms("Director", D(2017, 1, 1), "A", "B", "it-admin", {2018: kr(1)})
    with pytest.raises(Unauthorised):
        app.decide("pm", "X", "23", attrs.evolve(terms, decided_by="Someone Else"), "t")
    with pytest.raises(Unauthorised):
        app.decide("pm", "X", "24", terms, "t")
    with pytest.raises(Refused):
        app.decide("pm", "X", "23", attrs.evolve(terms, purpose="fishing"), "t")
    with pytest.raises(Refused):
        app.decide("pm", "X", "23", attrs.evolve(terms, schedule={2019: kr(1)}), "t")
    with pytest.raises(NotFound):
        app.decide("nope", "X", "23", terms, "t")
    assert app.decide("pm", "X", "23", terms, "t")


def test_identical_retries_record_nothing_and_different_content_is_refused(app):
    """decide and spend are safe to retry; the same id with other content is refused."""
    setup_jamtland(app)
    terms = DecisionTerms("Director", D(2017, 1, 1), "A", "B", "it-admin", {2018: kr(10)})
    assert app.decide("pm", "X", "23", terms, "t")
    position = app.last_position()
    assert app.decide("pm", "X", "23", terms, "t") is False
    assert app.last_position() == position
    with pytest.raises(Duplicate):
        app.decide("pm", "X", "23", attrs.evolve(terms, schedule={2018: kr(11)}), "t")
    assert app.spend("pm", "X", 2018, kr(5), D(2018, 2, 1), "9902", "V1", "", "t")
    assert app.spend("pm", "X", 2018, kr(5), D(2018, 2, 1), "9902", "V1", "", "t") is False
    with pytest.raises(Duplicate):
        app.spend("pm", "X", 2018, kr(6), D(2018, 2, 1), "9902", "V1", "", "t")
    app.decide("pm", "Y", "23", DecisionTerms("Director", D(2017, 1, 1), "A", "B", "it-admin", {2018: kr(10)}, "", ""), "t")
    with pytest.raises(Duplicate, match="already booked on decision X"):
        app.spend("pm", "Y", 2018, kr(5), D(2018, 2, 1), "9902", "V1", "", "t")


def test_reverse_finds_the_booking_by_voucher_and_revoked_decisions_release_money(app):
    """Revoking keeps only what was booked; reversing a booking of a revoked decision frees it too."""
    setup_jamtland(app)
    app.decide("pm", "X", "23", DecisionTerms("Director", D(2017, 1, 1), "A", "B", "it-admin", {2018: kr(1000)}, "", ""), "t")
    app.spend("pm", "X", 2018, kr(300), D(2018, 2, 1), "9902", "V1", "", "t")
    app.revoke("pm", "X", "Director", D(2018, 3, 1), "stopped", "t")
    ry = app.region_year("pm", "23", 2018)
    assert ry.committed == kr(300)
    app.reverse("pm", "V1", D(2018, 3, 2), "wrong", "t")
    assert app.region_year("pm", "23", 2018).committed == Amount(0)
    assert app.region_year("pm", "23", 2018).available == kr(12_208_598)


def test_closed_year_refuses_bookings_until_reopened(app):
    """Nothing new in a closed year: bookings and reversals wait for a reopening."""
    setup_jamtland(app)
    app.decide("pm", "X", "23", DecisionTerms("Director", D(2017, 1, 1), "A", "B", "it-admin", {2018: kr(1000)}, "", ""), "t")
    app.spend("pm", "X", 2018, kr(300), D(2018, 2, 1), "9902", "V1", "", "t")
    app.close_year("pm", "23", 2018, D(2019, 3, 1), "t")
    with pytest.raises(Refused, match="closed"):
        app.spend("pm", "X", 2018, kr(1), D(2018, 12, 30), "9902", "V2", "", "t")
    with pytest.raises(Refused, match="closed"):
        app.reverse("pm", "V1", D(2019, 3, 2), "x", "t")
    assert app.spend("pm", "X", 2018, kr(300), D(2018, 2, 1), "9902", "V1", "", "t") is False
    app.reopen_year("pm", "23", 2018, D(2019, 3, 3), "late invoice", "t")
    assert app.spend("pm", "X", 2018, kr(1), D(2018, 12, 30), "9902", "V2", "", "t")


def test_a_concurrent_write_is_retried_against_fresh_state(db_path):
    """When another writer commits first, the command reloads and re-checks the rules."""
    first = GrantLedger(env=store_env(db_path))
    second = GrantLedger(env=store_env(db_path))
    setup_jamtland(first)
    real_save = first.save
    calls = []

    def save_after_a_rival(*aggregates, **kwargs):
        if not calls:
            # the rival takes 10 000 000 of the same year between our load and our save
            second.decide("pm", "RIVAL", "23", DecisionTerms("Director", D(2017, 1, 1), "A", "B", "it-admin",
                          {2018: kr(10_000_000)}, "", ""), "t")
        calls.append(1)
        return real_save(*aggregates, **kwargs)

    first.save = save_after_a_rival
    with pytest.raises(Insufficient, match="2 208 598 available"):
        first.decide("pm", "MINE", "23", DecisionTerms("Director", D(2017, 1, 1), "A", "B", "it-admin",
                     {2018: kr(3_000_000)}, "", ""), "t")
    assert len(calls) == 1  # the first save conflicted; the retry refused before saving
    assert first.region_year("pm", "23", 2018).committed == kr(10_000_000)
    first.close()
    second.close()


def test_a_writer_that_keeps_conflicting_gives_up_with_nothing_recorded(app, monkeypatch):
    """A command that keeps conflicting until its retry budget is spent gives up with Conflict
    (exit code 3), having tried more than once."""
    setup_jamtland(app)
    before = app.last_position()

    attempts = []

    def always_conflict(*aggregates, **kwargs):
        attempts.append(1)
        raise IntegrityError("duplicate key")

    monkeypatch.setattr(app, "save", always_conflict)
    monkeypatch.setattr(app, "retry_budget", 0.2)
    with pytest.raises(Conflict) as info:
        app.reserve("pm", "23", 2018, kr(1), "it-admin", D(2018, 1, 1), "R", "t")
    assert info.value.exit_code == 3
    assert len(attempts) > 1
    assert app.last_position() == before


def test_allocation_by_table_is_one_atomic_write(app):
    """A table allocation refused for one region records nothing for any region."""
    setup_jamtland(app)
    before = app.last_position()
    with pytest.raises(Duplicate):
        app.allocate("pm", 2018, "stimulus", {"01": kr(5), "23": kr(1)}, "table", "t")
    assert app.last_position() == before
    assert app.allocate("pm", 2018, "stimulus", {"01": kr(5), "23": kr(8_357_305)}, "table", "t") == 1


def test_apportion_uses_the_pot_or_the_given_amount(app):
    """By population, the pot is split unless another amount is given."""
    setup_jamtland(app)
    shares = app.apportion("pm", 2018, "stimulus", None, {"01": 3, "23": 1})
    assert sum(s.ore for s in shares.values()) == kr(651_000_000).ore
    shares = app.apportion("pm", 2018, "stimulus", kr(10), {"01": 1, "23": 1, "24": 1})
    assert shares == {"01": kr(4), "23": kr(3), "24": kr(3)}
    with pytest.raises(Malformed):
        app.apportion("pm", 2018, "stimulus", Amount(1050), {"01": 1})


def test_store_targets():
    """An SQLite path or a postgresql URL (with optional schema); anything else is malformed."""
    assert store_env("x.sqlite")["SQLITE_DBNAME"] == "x.sqlite"
    env = store_env("postgresql://u:p%40ss@db.example:6543/grants?schema=s1")
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_USER"], env["POSTGRES_PASSWORD"],
            env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]) == ("db.example", "6543", "u", "p@ss", "grants", "s1")
    for bad in ("mysql://x/y", "postgresql://host:5432/"):
        with pytest.raises(Malformed):
            store_env(bad)
