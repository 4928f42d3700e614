"""The re-check of verify and import keeps its memory flat (digests in a file, decisions written
out past a number of bookings) and says exactly what the in-memory re-check says."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from projections import verify
from projections.fold import entries_of
from projections.verify import Checker, DigestLog, HistoryError
from bench.national import generate

import pytest


@settings(max_examples=30, deadline=None)
@given(gaps=st.lists(st.integers(1, 5), min_size=0, max_size=300), asks=st.lists(st.integers(0, 1600), max_size=20))
def test_the_digest_log_in_a_file_answers_as_a_list_would(gaps, asks):
    log, kept, position = DigestLog("sha256:" + "0" * 64), [], 0
    log.BUFFER = 200  # written out every five records
    for i, gap in enumerate(gaps):
        position += gap
        value = "sha256:" + hashlib.sha256(str(i).encode()).hexdigest()
        log.add(position, value)
        kept.append((position, value))
    for ask in asks:
        before = [v for p, v in kept if p <= ask]
        assert log.at(ask) == (before[-1] if before else log.genesis)
        for _, value in kept[ask % 7::50]:
            assert log.holds(value, ask)
    assert not log.holds("sha256:" + "f" * 64, 3) and log.holds(log.genesis, 0)


@pytest.mark.parametrize("keep", [1, 3, 10**9])
def test_the_flat_re_check_gives_the_same_digest_and_view(app, keep, monkeypatch):
    generate(app, 12, 5)  # a small national history: 12 decisions, their bookings and vouchers
    monkeypatch.setattr(verify, "KEEP_BOOKINGS", keep)
    whole, flat = Checker(), Checker(keep_entries=False)
    for entry in entries_of(app):
        whole.check(entry)
        flat.check(entry)
    whole.finish()
    flat.finish()
    assert flat.digest.value == whole.digest.value
    for key, decision in whole.view.decisions.items():
        assert flat.view.decisions.get(key).spent_by_year == decision.spent_by_year
    if keep == 1:
        assert flat.view.by_id.out  # decisions were written out and read back
    again = Checker(keep_entries=False)
    entries = list(entries_of(app))
    for entry in entries:
        again.check(entry)
    with pytest.raises(HistoryError, match="is version"):
        again.check(entries[-1].__class__(entries[-1].position + 1, entries[-1].event))  # a repeat
