"""Persisted read models agree with the fold: incrementally updated, rebuilt, and folded."""

from __future__ import annotations

import tempfile

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from ledger.application import GrantLedger

from ledger.persistence import store_env
from ledger.errors import NotFound
from projections.balances import balance_rows
from projections.commitments import commitment_rows
from projections.compliance import compliance_rows
from projections.fold import entries_of, fold
from projections.audit import Digest, audit, digested, upto
from projections.persisted import TABLES, ReadModels, audit_year
from tests.model import D, REGIONS, YEARS
from tests.machine import LedgerMachine, machine_test
from ledger.terms import DecisionTerms

BOOKED = D.replace(year=2018)  # a booking is dated in the year it is booked for


def full_audit(app, year, region, position, as_of, grant="g"):
    digest = Digest()
    view = fold(digested(upto(entries_of(app), position, as_of), digest), keep_entries=True)
    try:
        return audit(view, digest.value, grant, year, region, as_of, D)
    except NotFound as e:
        return str(e)


def fast_audit(models, app, year, region, position, as_of, grant="g"):
    try:
        return audit_year(models, app, grant, year, region, position, as_of, D)
    except NotFound as e:
        return str(e)


def tables(models: ReadModels) -> dict[str, list]:
    """Every row of every read-model table, in a stable order."""
    return {t: sorted(models._run(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


class ReadModelMachine(LedgerMachine):
    """The ledger state machine on SQLite, with the read models caught up at random moments."""

    def make_app(self) -> GrantLedger:
        self.dir = tempfile.TemporaryDirectory()
        self.db = f"{self.dir.name}/ledger.sqlite"
        # many checkpoints and kept states, so the fast audit starts from them
        self.models = ReadModels(self.db, checkpoint=3, snapshot=2)
        return GrantLedger(env=store_env(self.db))

    @rule()
    def catch_up(self):
        self.models.catch_up(self.app, batch=7)

    @rule(data=st.data())
    def a_fast_audit_agrees_with_the_full_fold(self, data):
        """The audit from checkpoints and per-aggregate replay equals the fold of the whole prefix."""
        head = self.app.last_position()
        position = data.draw(st.integers(min_value=0, max_value=head + 2))
        year = data.draw(st.sampled_from(YEARS))
        region = data.draw(st.sampled_from([None, *REGIONS]))
        entries = list(entries_of(self.app))
        as_of = None
        if entries and data.draw(st.booleans()):
            as_of = data.draw(st.sampled_from(entries)).recorded_at
            position = None
        assert fast_audit(self.models, self.app, year, region, position, as_of) == \
            full_audit(self.app, year, region, position, as_of)

    @invariant()
    def read_models_agree_with_the_fold(self):
        if not hasattr(self, "models"):
            return
        view = fold(entries_of(self.app))
        folded = (balance_rows(view, "g"), commitment_rows(view, "g"),
                  compliance_rows(view, "g", D, None, None))
        self.models.catch_up(self.app, batch=5)
        assert self.models.position() == self.app.last_position()
        incremental = (self.models.balance_rows("g", None, None),
                       self.models.commitment_rows("g", None, None),
                       compliance_rows(self.models.view_for("g", None), "g", D, None, None))
        assert incremental == folded
        for year in YEARS:
            assert compliance_rows(self.models.view_for("g", None, year), "g", D, None, year) == \
                compliance_rows(view, "g", D, None, year)

    def teardown(self):
        if hasattr(self, "models"):
            self.models.catch_up(self.app)
            incremental = tables(self.models)
            self.models.rebuild(self.app, helper=False)
            assert tables(self.models) == incremental
            self.models.close()
            self.app.close()
            self.dir.cleanup()


TestReadModels = machine_test(ReadModelMachine, 15, 25)


def test_read_models_on_postgres_match_the_fold(pg_url):
    """The same read models in a PostgreSQL schema give the fold's rows after a rebuild, with or
    without a helper process, and the same audits."""
    from tests.drivers import kr

    app = GrantLedger(env=store_env(pg_url))
    models = ReadModels(pg_url, checkpoint=4)
    try:
        busy_ledger(app)
        app.decide("pm", "X", "23", DecisionTerms("Director", D, "A", "B", "it-admin", {2018: kr(1000)}, "", ""), "t")
        models.catch_up(app, batch=3)
        app.spend("pm", "X", 2018, kr(10), BOOKED, "9902", "V1", "", "t")
        models.catch_up(app)
        view = fold(entries_of(app))
        assert models.balance_rows("pm", None, None) == balance_rows(view, "pm")
        assert models.commitment_rows("pm", None, None) == commitment_rows(view, "pm")
        assert models.rebuild(app) == app.last_position()
        assert models.balance_rows("pm", None, None) == balance_rows(view, "pm")
        alone = tables(models)
        models.rebuild(app, helper=True, batch=3)
        assert tables(models) == alone
        for position in (None, 3, app.last_position() - 1):
            for region in (None, "23"):
                assert fast_audit(models, app, 2018, region, position, None, "pm") == \
                    full_audit(app, 2018, region, position, None, "pm")
    finally:
        models.close()
        app.close()


def busy_ledger(app: GrantLedger) -> None:
    """Jämtland 2018 with a dozen decisions (ids of both helper shares), bookings, a reversal,
    an amendment and a revocation."""
    from tests.jamtland import setup_jamtland
    from tests.drivers import kr

    setup_jamtland(app)
    for n in range(1, 13):
        app.decide("pm", f"D{n}", "23", DecisionTerms("Director", D, "A", f"B{n}", "it-admin", {2018: kr(10_000)}, "", ""), "t")
        for v in range(3):
            app.spend("pm", f"D{n}", 2018, kr(100 + v), BOOKED, "9902" if v else "1111", f"V{n}-{v}", "", "t")
    app.reverse("pm", "V5-1", D, "wrong", "t")
    app.amend("pm", "D7", {2018: kr(5_000)}, "Director", D, "less", "t")
    app.revoke("pm", "D8", "Director", D, "stopped", "t")


def test_a_helper_process_gives_the_same_read_models(tmp_path):
    """A rebuild that shares the decisions with a helper process writes exactly the rows of one
    that does not, batch by batch."""
    from ledger.decision import decision_uuid

    assert {decision_uuid("pm", f"D{n}").bytes[0] & 1 for n in range(1, 13)} == {0, 1}
    db = str(tmp_path / "ledger.sqlite")
    app = GrantLedger(env=store_env(db))
    models = ReadModels(db, checkpoint=5, snapshot=2)
    try:
        busy_ledger(app)
        models.rebuild(app, helper=False)
        alone = tables(models)
        models.rebuild(app, helper=True, batch=9)
        assert tables(models) == alone
        assert len(alone["grants_rm_history"]) > 50
    finally:
        models.close()
        app.close()
