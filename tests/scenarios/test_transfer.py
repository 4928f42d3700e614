"""Export, import and verify: moving a ledger between stores, and catching altered history."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from tests.jamtland import G, history_with_a_sealed_report, jamtland

from tests.drivers import Grants


def test_export_then_import_gives_the_same_ledger(grants, store, tmp_path):
    """A round trip (SQLite to SQLite or PostgreSQL) gives identical balances, audits and digests."""
    history_with_a_sealed_report(grants)
    path = tmp_path / "ledger.jsonl"
    grants("export", "--output", str(path))
    target = Grants(store)
    out = target("import", str(path)).stdout
    assert out.startswith(f"imported {grants.events()} events")
    for query in (["balance", G], ["commitments", G], ["history", G]):
        assert target.json(*query) == grants.json(*query)
    audit = ["audit", G, "--year", "2018", "--on", "2019-03-01"]
    assert target.json(*audit) == grants.json(*audit)
    assert "the history holds" in target("verify").stdout
    back = tmp_path / "back.jsonl"
    target("export", "--output", str(back))
    assert back.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_import_needs_an_empty_ledger(grants, tmp_path):
    """Importing into a ledger that already holds events is refused."""
    jamtland(grants)
    path = tmp_path / "ledger.jsonl"
    grants("export", "--output", str(path))
    before = grants.events()
    assert "not empty" in grants("import", str(path), code=1).stderr
    assert grants.events() == before


def _lines(grants: Grants, tmp_path) -> list[str]:
    path = tmp_path / "src.jsonl"
    grants("export", "--output", str(path))
    return path.read_text(encoding="utf-8").splitlines()


def _edit(lines: list[str], kind: str, change) -> list[str]:
    out = list(lines)
    for i, line in enumerate(out):
        record = json.loads(line)
        if record["type"] == kind:
            change(record)
            out[i] = json.dumps(record, ensure_ascii=False)
            return out
    raise AssertionError(kind)


def _renumbered(lines: list[str]) -> list[str]:
    """The lines with positions 1, 2, 3... again (so only the rules can tell what changed)."""
    out = []
    for n, line in enumerate(lines, start=1):
        record = json.loads(line)
        record["position"] = n
        out.append(json.dumps(record, ensure_ascii=False))
    return out


@pytest.mark.parametrize("tamper, message", [
    (lambda ls: ls + ["{not json"], "line 40: is not JSON"),
    (lambda ls: [ls[0].replace('"topic": "grants:Grant.Defined/v1"', '"topic": "evil:Thing"')] + ls[1:],
     "unknown event topic"),
    (lambda ls: _renumbered([line for line in ls if '"type": "spent"' not in line]),
     "registered without its booking"),
    (lambda ls: _renumbered([ls[1], ls[0], *ls[2:]]), "missing or out of order"),
    (lambda ls: [line for line in ls if '"type": "spent"' not in line], "line 32: inconsistent at position 33 (voucher-registered): positions 32-32 are missing"),
    (lambda ls: _edit(ls, "spent", lambda r: r["data"].update(amount=10**12)), "would leave 2018 remaining"),
    (lambda ls: _edit(ls, "decided", lambda r: r["data"].update(decided_by="Mallory")), "not authorised"),
    (lambda ls: _edit(ls, "commitment-set", lambda r: r["data"].update(amount=1)), "does not match"),
    (lambda ls: _edit(ls, "grant-defined", lambda r: r.update(recorded_by="mallory") or r["data"].update(
        recorded_by="mallory")), "sealed digest"),
    (lambda ls: _edit(ls, "grant-defined", lambda r: r.update(recorded_by="mallory")), "contradicts"),
    (lambda ls: _edit(ls, "report-filed", lambda r: r["data"].update(position=35)), "seal names position 35"),
])
def test_a_malformed_or_inconsistent_file_is_refused_whole(grants, tmp_path, tamper, message):
    """Broken, reordered, altered or rule-breaking files: exit 2, and nothing is written."""
    history_with_a_sealed_report(grants)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(tamper(_lines(grants, tmp_path))) + "\n", encoding="utf-8")
    target_db = tmp_path / "target.sqlite"
    r = Grants(str(target_db))("import", str(path), code=2)
    assert message in r.stderr
    assert not target_db.exists()


def _tamper_store(db: str, sql: str) -> None:
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(sql)
    finally:
        conn.close()  # the last connection closing folds the WAL into the file


def _restore(db: str, clean: bytes) -> None:
    """Put a store's file back as it was, without a WAL of the altered one beside it."""
    for side in ("-wal", "-shm"):
        if os.path.exists(db + side):
            os.remove(db + side)
    open(db, "wb").write(clean)


def test_verify_passes_a_clean_history_and_exit_4_for_altered_missing_or_reordered(grants):
    """verify: 0 for a clean store; 4 when an event is altered, removed or swapped."""
    history_with_a_sealed_report(grants)
    assert "the history holds" in grants("verify").stdout
    clean = open(grants.db, "rb").read()

    def reset():
        _restore(grants.db, clean)

    tampering = {
        "altered amount": "update stored_events set state = replace(state, '\"amount\":500000', "
                          "'\"amount\":600000') where topic like '%Spent%'",
        "altered recorder": "update stored_events set state = replace(state, '\"recorded_by\":\"anna\"', "
                            "'\"recorded_by\":\"eve\"') where rowid = 1",
        "missing event": "delete from stored_events where rowid = (select rowid from stored_events "
                         "where topic like '%Reserved%')",
        "reordered": "update stored_events set originator_version = 99 where rowid = 2",
        "removed report": "delete from stored_events where topic like '%ReportFiled%'",
        "unreadable event": "update stored_events set state = X'7b6f6f7073' where rowid = 30",
    }
    for name, sql in tampering.items():
        reset()
        _tamper_store(grants.db, sql)
        r = grants("verify", code=4)
        assert r.stderr.startswith("error: stored history fails verification"), name
    reset()
    grants("verify")


def test_an_unreadable_store_is_one_error_line_everywhere(grants):
    """Commands meeting a stored event they cannot read say so in one line, with exit 4."""
    history_with_a_sealed_report(grants)
    _tamper_store(grants.db, "update stored_events set state = X'7b6f6f7073' where rowid = 30")
    for args in (["history", G], ["balance", G, "--position", "50"], ["export"],
                 ["audit", G, "--year", "2018"], ["rebuild"], ["verify"]):
        r = grants(*args, code=4)
        assert "position 30" in r.stderr, args


def test_verify_holds_the_store_to_the_digests_the_read_models_computed(grants):
    """An edit that breaks no rule, after the last sealed report, or a cut of the last events,
    is caught by verify once the read models have applied those events."""
    history_with_a_sealed_report(grants)
    grants("balance", G)  # the read models catch up: they now witness every event
    clean = open(grants.db, "rb").read()
    last = grants.events()

    def edit_amount(conn):  # the stored bytes stay bytes, and still decode
        rowid, state = conn.execute("select rowid, state from stored_events where topic like '%Spent%' "
                                    "and instr(state, '\"amount\":500000') > 0").fetchone()
        conn.execute("update stored_events set state = ? where rowid = ?",
                     (bytes(state).replace(b'"amount":500000', b'"amount":500100'), rowid))

    def cut_last(conn):
        conn.execute("delete from stored_events where rowid = ?", (last,))

    for tamper, said in [(edit_amount, "not those the read models applied"), (cut_last, "events were removed")]:
        _restore(grants.db, clean)
        conn = sqlite3.connect(grants.db)
        with conn:
            tamper(conn)
        conn.close()  # so no write-ahead log outlives it
        assert said in grants("verify", code=4).stderr
    _restore(grants.db, clean)
    assert "the history holds" in grants("verify").stdout
