"""What makes the web view quick at national scale: kept states decoded once and shared by a
page's questions and by later pages, a server warmed at start, and a region-year page that
reads the region-year's own events rather than listing its whole year. Each is checked
against the slow answer it replaces, and against a read model altered behind its back."""

from __future__ import annotations

import datetime
import sqlite3

from projections.persisted.shared import DECODED, Decodings
from tests.jamtland import G, history_with_a_sealed_report
from web.app import reading, warm
from web.pages import YEAR_EVENTS

ON = datetime.date(2019, 3, 1)
LINE = ("position", "recorded_at", "recorded_by", "type", "effective", "summary", "region")


def test_decodings_keep_the_most_recently_used_within_their_limit():
    """Past its limit in bytes of state, the least recently used decoding is dropped first."""
    kept = Decodings(limit=10)
    state = b'{"x": 1}'  # not read: every key below is asked with a kind the stub decodes
    decoded = []

    import projections.persisted.shared as shared
    real = shared._decode_state
    shared._decode_state = lambda kind, s: decoded.append(kind) or object()
    try:
        a = kept.get("A", state[:4], "a")
        kept.get("B", state[:4], "b")
        assert kept.get("A", state[:4], "a") is a  # a hit: not decoded again, and now the newest
        kept.get("C", state[:4], "c")  # 12 bytes > 10: the least recently used, "b", goes
        assert decoded == ["A", "B", "C"] and kept.held == 8
        kept.get("B", state[:4], "b")
        assert decoded == ["A", "B", "C", "B"]
    finally:
        shared._decode_state = real


def test_a_page_asked_twice_answers_the_same_and_decodes_once(tmp_path):
    """The second asking of a region-year page takes every state from the decodings and shows the same."""
    from tests.drivers import Grants

    grants = Grants(str(tmp_path / "l.sqlite"))
    history_with_a_sealed_report(grants)
    grants("balance", G)
    DECODED.clear()
    with reading(grants.db) as reader:
        first = reader.compliance(G, ON, "23", 2018).rows
        held = DECODED.held
        assert held > 0
    with reading(grants.db) as reader:
        assert reader.compliance(G, ON, "23", 2018).rows == first
    assert DECODED.held == held


def test_warm_decodes_every_grant_and_a_state_altered_afterwards_is_still_caught(tmp_path):
    """After the server warmed up, a kept state altered behind its back (its seal left as it was) is a Corrupt answer, not the decoding kept."""
    from starlette.testclient import TestClient

    from tests.drivers import Grants
    from web.app import create_app

    grants = Grants(str(tmp_path / "l.sqlite"))
    history_with_a_sealed_report(grants)
    grants("balance", G)
    DECODED.clear()
    warm(grants.db)
    assert DECODED.held > 0
    with TestClient(create_app(grants.db)) as client:
        assert client.get(f"/g/{G}/2018/r/23").status_code == 200
        with sqlite3.connect(grants.db) as db:
            (state,) = db.execute("SELECT state FROM grants_rm_aggregates WHERE kind = 'Decision' "
                                  "AND instr(state, 'JH-PM-01') > 0").fetchone()
            db.execute("UPDATE grants_rm_aggregates SET state = ? WHERE state = ?",
                       (bytes(state).replace(b"Anna Berg", b"Anna Borg"), state))
        response = client.get(f"/g/{G}/2018/r/23")
    assert response.status_code == 500 and "fails its checks" in response.text


def test_the_region_year_story_is_the_audit_s(sealed):
    """A region-year page's own events, filed reports (changed since, with what changed them) and year end equal the audit's."""
    with reading(sealed.db) as reader:
        story = reader.year_story(G, 2018, "23").rows
        audit = reader.audit(G, 2018, "23", ON).rows
    mine = [{k: e[k] for k in LINE} for e in story["events"] if e["type"] in YEAR_EVENTS]
    theirs = [{k: e[k] for k in LINE} for e in audit["events"] if e["type"] in YEAR_EVENTS]
    assert mine == theirs and {e["type"] for e in mine} >= {"allocated", "report-filed", "reserved"}
    assert story["reports"] == audit["reports"] and story["reports"][0]["changed_by"]
    assert story["year_end"] == audit["year_end"]


def test_an_as_of_balance_read_in_batches_keeps_no_decoding(sealed):
    """The as-of balance reads decisions a batch at a time and lets them go: none is kept in the process's decodings."""
    with reading(sealed.db) as reader:
        position = reader.app.last_position() - 1
        DECODED.clear()
        then = reader.balances(G, position=position).rows
        assert then and DECODED.held_by_kind("Decision") == 0
        reader.compliance(G, ON, "23", 2018, position=position)  # a view that holds its decisions shares them
        assert DECODED.held_by_kind("Decision") > 0
