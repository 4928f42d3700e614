"""Aggregates a process keeps between commands (ledger/loaded.py) are always what a fresh
load gives: caught up with other writers, never carrying a refused command's changes."""

from __future__ import annotations

import datetime
import itertools
import tempfile

import pytest

from ledger import states
from ledger.application import GrantLedger
from ledger.books import Entry
from ledger.errors import Insufficient, Refused
from ledger.loaded import Loaded
from ledger.persistence import store_env
from ledger.terms import Agreement, DecisionTerms
from ledger.values import Amount
from tests.machine import LedgerMachine, machine_test

G, U, Y, D = "pm", "tester", 2018, datetime.date


def _setup(app: GrantLedger) -> None:
    app.define_grant(G, "PM", 2016, 2018, [["p", "P"]], "3", "9902", U)
    app.sign_agreement(G, Agreement(Y, signed_on=D(Y, 1, 20), pots=[["s", Amount.kronor(10**6).ore]], earmarks=[],
                                    report_due=D(Y + 1, 2, 15), payer="SKL", report_to="S",
                                    population_date=None, ref=""), recorded_by=U)
    app.allocate(G, Y, "s", {"23": Amount.kronor(10**6)}, "entered", U)
    app.authorise(G, "23", "Anna", "hsd", None, None, U)
    app.decide(G, "D1", "23", DecisionTerms("Anna", D(Y, 2, 1), "A", "B", "p", {Y: Amount(10_000)}, "", ""), U)


def _fresh(path: str, what):
    """What a new process loads (nothing kept)."""
    other = GrantLedger(env=store_env(path))
    try:
        return states.dump(what(other))
    finally:
        other.close()


def test_another_writers_bookings_and_closing_are_seen(tmp_path):
    """A process that keeps a decision and its region-year sees another process's booking and
    closing of the year at its next command."""
    path = str(tmp_path / "l.sqlite")
    a, b = GrantLedger(env=store_env(path)), GrantLedger(env=store_env(path))
    try:
        _setup(a)
        a.spend(G, "D1", Y, Amount(1_000), D(Y, 3, 1), "", "V1", "", U)
        b.spend(G, "D1", Y, Amount(2_000), D(Y, 3, 1), "", "V2", "", U)
        a.spend(G, "D1", Y, Amount(3_000), D(Y, 3, 1), "", "V3", "", U)
        assert a.decision(G, "D1").spent_for(Y) == Amount(6_000)
        with pytest.raises(Insufficient):  # 10 000 granted: B's 2 000 counts
            a.spend(G, "D1", Y, Amount(4_001), D(Y, 3, 1), "", "V4", "", U)
        b.close_year(G, "23", Y, D(Y, 12, 31), U)
        with pytest.raises(Refused, match="closed"):
            a.spend(G, "D1", Y, Amount(1), D(Y, 3, 1), "", "V5", "", U)
        assert states.dump(a.decision(G, "D1")) == _fresh(path, lambda o: o.decision(G, "D1"))
    finally:
        a.close()
        b.close()


def test_a_refused_batch_leaves_nothing_kept(tmp_path):
    """A batch refused after booking some entries on a kept decision, and a dry run, leave the
    decision as stored."""
    path = str(tmp_path / "l.sqlite")
    app = GrantLedger(env=store_env(path))
    try:
        _setup(app)
        app.spend(G, "D1", Y, Amount(1_000), D(Y, 3, 1), "", "V1", "", U)
        good = Entry("V2", "D1", Y, Amount(500), D(Y, 3, 2), "", "")
        bad = Entry("V3", "D1", Y, Amount(50_000), D(Y, 3, 2), "", "")
        with pytest.raises(Refused):
            app.book_all(G, "23", [good, bad], U)
        assert app.decision(G, "D1").spent_for(Y) == Amount(1_000)
        app.book_all(G, "23", [good], U, record=False)
        assert app.decision(G, "D1").spent_for(Y) == Amount(1_000)
        assert states.dump(app.decision(G, "D1")) == _fresh(path, lambda o: o.decision(G, "D1"))
    finally:
        app.close()


class _Aggregate:
    def __init__(self, version: int) -> None:
        self.id, self.version, self._pending_events = "x", version, []


def test_within_a_command_an_aggregate_is_handed_out_once():
    """A second load in the same command is a fresh one (None from the kept ones); after the
    command the kept one is handed out again."""
    loaded = Loaded()
    loaded.keep(_Aggregate(3))
    with loaded.command():
        first = loaded.take("x", lambda a: a, lambda: 0)
        assert first is not None and first.version == 3
        assert loaded.take("x", lambda a: a, lambda: 0) is None
    assert loaded.take("x", lambda a: a, lambda: 0) is first


def test_a_changed_aggregate_is_dropped():
    """One changed and not saved (its version moved on) is never handed out again."""
    loaded = Loaded()
    aggregate = _Aggregate(3)
    loaded.keep(aggregate)
    aggregate.version = 4
    assert loaded.take("x", lambda a: a, lambda: 0) is None
    assert len(loaded) == 0


def test_writes_of_others_start_a_new_epoch():
    """Kept aggregates are caught up when the store moved on by anything but this process's own
    contiguous writes, and trusted as they are otherwise."""
    loaded = Loaded()
    caught: list[int] = []

    def catch_up(a):
        caught.append(a.version)
        return a
    position = itertools.count(10).__next__  # 10, 11, ...: the store moves on between looks
    loaded.position = 10
    loaded.keep(_Aggregate(1))
    with loaded.command():
        loaded.take("x", catch_up, lambda: 10)
    assert caught == []
    loaded.wrote([11, 12])  # our own, right after: still current
    with loaded.command():
        loaded.take("x", catch_up, lambda: 12)
    assert caught == []
    loaded.wrote([15])  # a gap: someone else wrote 13-14
    with loaded.command():
        loaded.take("x", catch_up, lambda: 15)
    assert caught == [1]
    loaded.take("x", catch_up, position)
    loaded.take("x", catch_up, position)
    assert caught == [1, 1, 1]


class TwoWriters:
    """Two ledgers on one file, taking turns command by command (two processes, each keeping
    what it loaded)."""

    def __init__(self, path: str) -> None:
        self.apps = [GrantLedger(env=store_env(path)), GrantLedger(env=store_env(path))]
        self.turn = itertools.cycle(self.apps)

    def __getattr__(self, name: str):
        return getattr(next(self.turn), name)


class TwoWriterMachine(LedgerMachine):
    """The ledger state machine with two writers on one SQLite file: each one's kept
    aggregates must equal the fold of the stored events at every step (check_replay)."""

    def make_app(self):
        self.dir = tempfile.TemporaryDirectory()
        return TwoWriters(f"{self.dir.name}/ledger.sqlite")

    def teardown(self):
        if hasattr(self, "app"):
            for app in self.app.apps:
                app.close()
            self.dir.cleanup()


TestTwoWriters = machine_test(TwoWriterMachine, 15, 30)


def test_each_thread_keeps_its_own(tmp_path):
    """Two threads loading the same grant from one ledger never share the object (one of them
    may be catching it up while the other reads it); one thread gets its kept one again."""
    import threading

    path = str(tmp_path / "l.sqlite")
    app = GrantLedger(env=store_env(path))
    try:
        _setup(app)
        mine = app.grant(G)
        assert app.grant(G) is mine
        theirs = []
        worker = threading.Thread(target=lambda: theirs.extend([app.grant(G), app.grant(G)]))
        worker.start()
        worker.join()
        assert theirs[0] is theirs[1] and theirs[0] is not mine
        assert states.dump(theirs[0]) == states.dump(mine)
    finally:
        app.close()
