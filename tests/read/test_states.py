"""Kept states of the read models: typed JSON that round-trips, and nothing else is ever loaded."""

from __future__ import annotations

import json
import pickle
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import Corrupt
from ledger import states
from projections.fold import entries_of, fold
from tests.jamtland import G
from tests.drivers import Grants
from tests.jamtland import history_with_a_sealed_report


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """A ledger with every kind of fact, and the aggregates its history folds into."""
    grants = Grants(str(tmp_path_factory.mktemp("states") / "ledger.sqlite"))
    history_with_a_sealed_report(grants)
    from ledger.application import GrantLedger
    from ledger.persistence import store_env

    app = GrantLedger(env=store_env(grants.db))
    view = fold(entries_of(app))
    app.close()
    return grants, [a for a in view.by_id.values() if type(a).__name__ in states.KINDS]


def _same(a, b) -> bool:
    keys = set(vars(a)) | set(vars(b))
    caches = {"_bookings", "_packed", "_vouchers", "_owned"}  # bookings packed or not, compared below
    return all(getattr(a, k, None) == getattr(b, k, None) for k in keys - caches) and (
        type(a).__name__ != "Decision" or a.bookings == b.bookings)


def test_every_kept_state_round_trips_exactly(ledger):
    """dump then load gives an aggregate equal, field for field, to the one replayed from events."""
    _, aggregates = ledger
    assert {type(a).__name__ for a in aggregates} == {"Grant", "RegionYear", "Decision"}
    for aggregate in aggregates:
        data = states.dump(aggregate)
        again = states.load(data, type(aggregate).__name__)
        assert _same(aggregate, again), type(aggregate).__name__
        assert states.dump(again) == data  # canonical: the same state, the same bytes


def test_a_loaded_state_takes_further_events(ledger):
    """A decision loaded from its kept state keeps its rules: an over-booking is refused there too."""
    from ledger.errors import Insufficient
    from ledger.values import Amount
    import datetime

    _, aggregates = ledger
    decision = next(a for a in aggregates if type(a).__name__ == "Decision")
    loaded = states.load(states.dump(decision), "Decision")
    with pytest.raises(Insufficient):
        loaded.spend("X-1", 2018, loaded.remaining_for(2018) + Amount(1), datetime.date(2018, 5, 1), "9902", "",
                     "anna", today=datetime.date(2019, 1, 1))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_altered_kept_state_loads_or_is_refused(ledger, data):
    """Any mutation of a kept state's JSON either loads as a valid state or is Corrupt: never another error."""
    _, aggregates = ledger
    aggregate = aggregates[data.draw(st.integers(0, len(aggregates) - 1))]
    state = json.loads(states.dump(aggregate))
    key = data.draw(st.sampled_from(sorted(state)))
    junk = data.draw(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                               st.text(max_size=12), st.lists(st.integers(), max_size=3),
                               st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        state[key] = junk
    elif action == "delete":
        del state[key]
    else:
        state["extra"] = junk
    try:
        states.load(json.dumps(state).encode(), type(aggregate).__name__)
    except Corrupt as e:
        assert "read models were altered" in str(e)


def test_a_decision_s_spent_reads_as_the_loaded_decision_says(ledger):
    """What an as-of balance reads of a kept decision (its region, spent per year) is what the loaded decision holds."""
    _, aggregates = ledger
    decisions = [a for a in aggregates if type(a).__name__ == "Decision"]
    assert decisions
    for decision in decisions:
        loaded = states.load(states.dump(decision), "Decision")
        assert states.decision_spent(states.dump(decision)) == (loaded.region, loaded.spent_by_year)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_altered_decision_s_spent_is_read_or_refused(ledger, data):
    """A kept decision whose region or spent per year is altered gives those values checked, or Corrupt: never another error."""
    _, aggregates = ledger
    decision = next(a for a in aggregates if type(a).__name__ == "Decision")
    state = json.loads(states.dump(decision))
    key = data.draw(st.sampled_from(["region", "spent_by_year"]))
    junk = data.draw(st.one_of(st.none(), st.integers(), st.text(max_size=4), st.lists(
        st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=2)), max_size=3), max_size=3)))
    state[key] = junk
    try:
        region, spent = states.decision_spent(json.dumps(state).encode())
    except Corrupt as e:
        assert "read models were altered" in str(e)
    else:
        assert type(region) is str and all(type(y) is int and type(v) is int for y, v in spent.items())


@given(blob=st.binary(max_size=300))
def test_random_bytes_never_load(blob):
    """Arbitrary bytes, a pickle among them, are refused as Corrupt."""
    for kind in ("Grant", "RegionYear", "Decision", "os.system"):
        with pytest.raises(Corrupt):
            states.load(blob, kind)
    with pytest.raises(Corrupt):
        states.decision_spent(blob)


def test_deep_nesting_is_refused_without_a_recursion_error():
    """200 000 nested brackets are one Corrupt, not a crash."""
    with pytest.raises(Corrupt):
        states.load(b"[" * 200_000 + b"]" * 200_000, "Decision")


class _Marker:
    """Pickled, it would create a file when unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_planted_in_a_read_model_is_never_run(ledger, tmp_path):
    """A read model cell holding a pickle that would run code is refused with exit 4 by every
    command that reads it, and the code never runs."""
    import shutil

    grants, _ = ledger
    db = str(tmp_path / "planted.sqlite")
    grants("balance", G)  # the read models catch up
    shutil.copy(grants.db, db)
    marker = tmp_path / "pwned"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE grants_rm_aggregates SET state = ? WHERE kind = 'Decision'",
                     (pickle.dumps(_Marker(str(marker))),))
        conn.execute("UPDATE grants_rm_snapshots SET state = ?", (pickle.dumps(_Marker(str(marker))),))
    conn.close()
    planted = Grants(db)
    for args in (["compliance", G], ["commitments", G], ["audit", G, "--year", "2018"]):
        r = planted(*args, code=4)
        assert "read models were altered" in r.stderr and "grants rebuild" in r.stderr, args
    assert "read models" in planted("verify", code=4).stderr
    assert not marker.exists()
    planted("rebuild")
    assert planted.json("compliance", G) == grants.json("compliance", G)


# --------------------------------------------------------------------------- every state a history passes through

from hypothesis.stateful import invariant  # noqa: E402

from ledger.voucher import Voucher  # noqa: E402
from tests.machine import LedgerMachine, machine_test  # noqa: E402


class StatesMachine(LedgerMachine):
    """The ledger's rules state machine; after each step every aggregate passes through its kept state."""

    @invariant()
    def replaying_through_kept_states_gives_the_replayed_states(self):
        """Replaying the log with every aggregate dumped and loaded after each of its events gives
        exactly the states a plain replay gives: loaded states take further events like replayed ones."""
        if not hasattr(self, "app"):
            return
        entries = list(entries_of(self.app))
        through_json = {}
        for entry in entries:
            event = entry.event
            aggregate = event.mutate(through_json.get(event.originator_id))
            if not isinstance(aggregate, Voucher):
                data = states.dump(aggregate)
                aggregate = states.load(data, type(aggregate).__name__)
                assert states.dump(aggregate) == data and aggregate.collect_events() == []
            through_json[event.originator_id] = aggregate
        for key, aggregate in fold(entries).by_id.items():
            if not isinstance(aggregate, Voucher):
                assert _same(through_json[key], aggregate)
                assert states.dump(through_json[key]) == states.dump(aggregate)


TestStates = machine_test(StatesMachine, 12, 20)
