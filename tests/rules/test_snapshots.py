"""Snapshots (ledger/snapshots.py): an aggregate loaded from its snapshot and the events after it
is the aggregate its events give; a snapshot that does not fit is never believed; verify
finds an altered one; a store without the table loads by replay."""

from __future__ import annotations

import datetime
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import states
from ledger.application import GrantLedger
from ledger.decision import decision_uuid
from ledger.errors import LedgerError
from ledger.persistence import _strictly, store_env
from ledger.region_year import region_year_uuid
from ledger.snapshots import TABLE, seal_of
from ledger.terms import Agreement, DecisionTerms
from ledger.values import Amount
from tests.drivers import Grants

G, U, Y, D = "pm", "tester", 2018, datetime.date


def _ledger(path: str, interval: int) -> GrantLedger:
    app = GrantLedger(env=store_env(path))
    app.snapshot_interval = interval
    return app


def _setup(app: GrantLedger, decisions: int = 1, amount: int = 1_000_000) -> None:
    app.define_grant(G, "PM", 2016, 2018, [["p", "P"]], "3", "9902", U)
    app.sign_agreement(G, Agreement(Y, signed_on=D(Y, 1, 20), pots=[["s", Amount.kronor(10**8).ore]], earmarks=[],
                                    report_due=D(Y + 1, 2, 15), payer="SKL", report_to="S",
                                    population_date=None, ref=""), recorded_by=U)
    app.allocate(G, Y, "s", {"23": Amount.kronor(10**8)}, "x", U)
    app.authorise(G, "23", "Anna", "hsd", D(2015, 1, 1), None, U)
    for n in range(decisions):
        app.decide(G, f"D{n}", "23", DecisionTerms("Anna", D(2017, 5, 2), "A", "B", "p",
                                                  {Y: Amount(amount)}, "", ""), U)


def _replayed(app: GrantLedger, aggregate_id):
    return app.repository.get(aggregate_id, projector_func=_strictly)


def _same(a, b) -> bool:
    """Equal field for field (a decision's bookings compared unpacked), and the same kept bytes."""
    keys = (set(vars(a)) | set(vars(b))) - {"_bookings", "_packed", "_vouchers", "_owned", "_pending_events"}
    return (all(getattr(a, k, None) == getattr(b, k, None) for k in keys)
            and (type(a).__name__ != "Decision" or a.bookings == b.bookings)
            and states.dump(a) == states.dump(b))


def _rows(path: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT originator_id, originator_version, kind, event_sha256, state, seal "
                            f"FROM {TABLE}").fetchall()


steps = st.lists(st.one_of(
    st.tuples(st.just("spend"), st.integers(1, 40_000)),
    st.tuples(st.just("credit"), st.integers(1, 40_000)),
    st.tuples(st.just("reverse"), st.integers(0, 10**6)),
    st.tuples(st.just("repeat"), st.integers(0, 10**6)),  # a retry of an earlier booking: records nothing
), min_size=1, max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, interval=st.integers(2, 7))
def test_a_decision_loaded_from_its_snapshot_equals_its_replay(steps, interval):
    """Over random bookings, credits, reversals and retries, with snapshots kept every few
    versions, the decision loaded through its snapshot (and the events after it) equals, field
    for field, the decision replayed from all its events; so do its region-year and grant."""
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "l.sqlite")
        app = _ledger(path, interval)
        try:
            _setup(app, amount=200_000)
            booked: list[tuple[str, int]] = []
            for n, (kind, value) in enumerate(steps):
                try:
                    if kind in ("spend", "credit"):
                        voucher = f"V{n}"
                        amount = value if kind == "spend" else -value
                        if app.spend(G, "D0", Y, Amount(amount), D(Y, 3, 1 + n % 28), "", voucher, "t", U):
                            booked.append((voucher, amount))
                    elif booked and kind == "reverse":
                        voucher = booked[value % len(booked)][0]
                        app.reverse(G, voucher, D(Y, 6, 1), "wrong", U)
                    elif booked:
                        voucher, amount = booked[value % len(booked)]
                        assert not app.spend(G, "D0", Y, Amount(amount), D(Y, 3, 1 + int(voucher[1:]) % 28), "",
                                             voucher, "t", U)
                except LedgerError:
                    pass  # refused by the rules (over the year's amount, below zero, reversed twice)
            oid = decision_uuid(G, "D0")
            kept = {row[0]: row[1] for row in _rows(path)} if app.snapshot_table.exists() else {}
            version = _replayed(app, oid).version
            if version > interval:  # a snapshot was kept, and loading starts from it
                assert 1 < kept[oid.hex] <= version
            for aggregate_id in (oid, region_year_uuid(G, "23", Y)):
                assert _same(app._get(aggregate_id), _replayed(app, aggregate_id))
            # and the same from a fresh process's view (nothing cached in the application)
            again = _ledger(path, interval)
            try:
                assert _same(again._get(oid), _replayed(app, oid))
            finally:
                again.close()
        finally:
            app.close()


def _booked(tmp_path, count: int = 12, interval: int = 5) -> tuple[str, GrantLedger]:
    path = str(tmp_path / "l.sqlite")
    app = _ledger(path, interval)
    _setup(app, amount=100_000)
    for n in range(count):
        app.spend(G, "D0", Y, Amount(1_000), D(Y, 3, 1), "", f"V{n}", "", U)
    return path, app


def _alter(path: str, change, reseal: bool) -> None:
    """Change the decision's snapshot state with ``change(dict)``; with ``reseal``, its seal too."""
    import json

    oid = decision_uuid(G, "D0")
    with sqlite3.connect(path) as conn:
        version, kind, sha, state = conn.execute(
            f"SELECT originator_version, kind, event_sha256, state FROM {TABLE} WHERE originator_id = ?",
            [oid.hex]).fetchone()
        data = json.loads(state)
        change(data)
        state = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        seal = seal_of(oid, version, kind, sha, state) if reseal else \
            conn.execute(f"SELECT seal FROM {TABLE} WHERE originator_id = ?", [oid.hex]).fetchone()[0]
        conn.execute(f"UPDATE {TABLE} SET state = ?, seal = ? WHERE originator_id = ?", [state, seal, oid.hex])


def _cheaper(data: dict) -> None:
    """Say a booking cost 1 öre (and the year's spent accordingly): the state still decodes."""
    data["bookings"][0][2] = 1
    data["spent_by_year"] = [[Y, data["spent_by_year"][0][1] - 999]]


def test_an_altered_snapshot_is_not_believed_and_verify_finds_it(tmp_path):
    """A snapshot changed in place (its seal no longer matching) is not used: the decision is
    replayed from its events (the right figures, the rules on them: the last öre cannot be
    overbooked), and `grants verify` exits 4 naming the snapshot."""
    path, app = _booked(tmp_path)
    oid = decision_uuid(G, "D0")
    truth = _replayed(app, oid)
    _alter(path, _cheaper, reseal=False)
    try:
        loaded = app._get(oid)
        assert _same(loaded, truth) and loaded.spent_for(Y) == Amount(12_000)
        with pytest.raises(LedgerError):  # 88 000 left: 88 001 is one öre too many
            app.spend(G, "D0", Y, Amount(88_001), D(Y, 3, 1), "", "OVER", "", U)
    finally:
        app.close()
    result = Grants(path)("verify", code=4)
    assert "snapshot" in result.stderr and "seal" in result.stderr


def test_a_resealed_forgery_is_found_by_verify(tmp_path):
    """A forged snapshot whose seal was recomputed decodes and fits its event; `grants verify`
    replays the aggregate to the snapshot's version and finds the states differ (exit 4)."""
    path, app = _booked(tmp_path)
    app.close()
    _alter(path, _cheaper, reseal=True)
    result = Grants(path)("verify", code=4)
    assert "is not what its events give" in result.stderr


@pytest.mark.parametrize("change", ["version", "event", "not-json", "other-aggregate"])
def test_a_snapshot_that_does_not_fit_its_events_is_replaced_by_the_replay(tmp_path, change):
    """A snapshot naming a version the stream does not have, another event, holding no valid
    state, or another aggregate's state: loading falls back to the full replay."""
    path, app = _booked(tmp_path)
    oid, other = decision_uuid(G, "D0"), region_year_uuid(G, "23", Y)
    truth = _replayed(app, oid)
    with sqlite3.connect(path) as conn:
        row = conn.execute(f"SELECT originator_version, kind, event_sha256, state FROM {TABLE} "
                           "WHERE originator_id = ?", [oid.hex]).fetchone()
        version, kind, sha, state = row
        if change == "version":
            version += 1000
        elif change == "event":
            sha = "0" * 64
        elif change == "not-json":
            state = b"\x80\x04pickle"
        else:
            state = states.dump(_replayed(app, other))
            kind = "RegionYear"
        conn.execute(f"UPDATE {TABLE} SET originator_version = ?, kind = ?, event_sha256 = ?, state = ?, "
                     "seal = ? WHERE originator_id = ?",
                     [version, kind, sha, state, seal_of(oid, version, kind, sha, state), oid.hex])
    try:
        assert app._from_snapshot(oid) is None
        assert _same(app._get(oid), truth)
    finally:
        app.close()
    Grants(path)("verify", code=4)


def test_a_store_without_snapshots_loads_by_replay_and_keeps_them_once_due(tmp_path):
    """An old ledger (no snapshot table) loads by replay; the table is made when the first
    snapshot is due, and rebuild clears it."""
    path = str(tmp_path / "l.sqlite")
    app = _ledger(path, 64)
    _setup(app)
    for n in range(10):
        app.spend(G, "D0", Y, Amount(100), D(Y, 3, 1), "", f"V{n}", "", U)
    assert not app.snapshot_table.exists()
    assert app.decision(G, "D0").spent_for(Y) == Amount(1_000)
    app.snapshot_interval = 4  # loaded by replaying 11 events: due at the next save
    app.decision(G, "D0")
    app.spend(G, "D0", Y, Amount(100), D(Y, 3, 1), "", "V10", "", U)
    assert [(r[1], r[2]) for r in _rows(path)] == [(12, "Decision")]
    app.close()
    grants = Grants(path)
    assert "verified 1 snapshots" in grants("verify").stdout
    grants("rebuild")
    assert _rows(path) == []


def test_snapshots_on_postgres(pg_url):
    """The same on PostgreSQL: kept, used, and equal to the replay."""
    app = _ledger(pg_url, 4)
    try:
        _setup(app)
        for n in range(9):
            app.spend(G, "D0", Y, Amount(100), D(Y, 3, 1), "", f"V{n}", "", U)
        oid = decision_uuid(G, "D0")
        row = app.snapshot_table.get(oid)
        assert row is not None and row[0] == 8 and row[1] == "Decision"
        assert app._from_snapshot(oid) is not None
        assert _same(app._get(oid), _replayed(app, oid))
        assert app.check_snapshots() >= 1
    finally:
        app.close()


def test_large_aggregates_are_snapshotted_less_often(tmp_path):
    """Every 64 events, doubled while that is at most a sixteenth of the version: keeping a
    snapshot costs what the aggregate holds, so its share of each event's cost stays flat."""
    app = _ledger(str(tmp_path / "l.sqlite"), 64)
    try:
        assert [app.snapshot_every(v) for v in (1, 511, 512, 1024, 10_000, 50_000)] == [64, 64, 64, 128, 1024, 4096]
    finally:
        app.close()
