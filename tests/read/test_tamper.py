"""A store that lies is caught: single rows of the event table altered, deleted, moved,
reordered or inserted behind the ledger's back, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.jamtland import G

from tests.drivers import Grants
from tests.scenarios.test_transfer import history_with_a_sealed_report

QUERIES = (["balance", G], ["commitments", G], ["compliance", G, "--on", "2019-03-01"],
           ["audit", G, "--year", "2018", "--on", "2019-03-01"], ["history", G], ["export"])


class Raw:
    """Plain SQL on a ledger's database, behind the ledger's back."""

    def __init__(self, target: str) -> None:
        self.postgres = target.startswith("postgresql://")
        if self.postgres:
            import psycopg

            url = urlsplit(target)
            self.conn = psycopg.connect(target.split("?")[0], autocommit=True)
            self.conn.execute(f'SET search_path TO "{parse_qs(url.query)["schema"][0]}"')
            self.table, self.key = "grants_events", "notification_id"
        else:
            import sqlite3

            self.conn = sqlite3.connect(target, isolation_level=None)
            self.table, self.key = "stored_events", "rowid"

    def run(self, sql: str, params: tuple = ()) -> list[tuple]:
        sql = sql.replace("EVENTS", self.table).replace("POS", self.key)
        cursor = self.conn.execute(sql.replace("?", "%s") if self.postgres else sql, params)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

    def change(self, sql: str, params: tuple = ()) -> int:
        """Run a write; how many rows it changed."""
        cursor = self.conn.execute(sql.replace("?", "%s") if self.postgres else sql, params)
        return cursor.rowcount

    def events(self) -> list[tuple]:
        return self.run("SELECT POS, originator_id, originator_version, topic, state FROM EVENTS ORDER BY POS")

    def close(self) -> None:
        self.conn.close()


def _of(raw: Raw, topic_part: str, nth: int = 0) -> tuple:
    return [e for e in raw.events() if topic_part in e[3]][nth]


def delete_a_decision_event(raw: Raw) -> None:
    raw.run("DELETE FROM EVENTS WHERE POS = ?", (_of(raw, "Decision.Amended")[0],))


def delete_the_first_event(raw: Raw) -> None:
    raw.run("DELETE FROM EVENTS WHERE POS = ?", (raw.events()[0][0],))


def delete_the_last_event(raw: Raw) -> None:
    raw.run("DELETE FROM EVENTS WHERE POS = ?", (raw.events()[-1][0],))


def reorder_two_events(raw: Raw) -> None:
    """The booking and its reversal change places (their versions swapped)."""
    spent, reversed_ = _of(raw, "Decision.Spent"), _of(raw, "Decision.Reversed")
    raw.run("UPDATE EVENTS SET originator_version = -1 WHERE POS = ?", (spent[0],))
    raw.run("UPDATE EVENTS SET originator_version = ? WHERE POS = ?", (spent[2], reversed_[0]))
    raw.run("UPDATE EVENTS SET originator_version = ? WHERE POS = ?", (reversed_[2], spent[0]))


def move_an_event_to_the_end(raw: Raw) -> None:
    position = _of(raw, "RegionYear.Reserved")[0]
    last = raw.events()[-1][0]
    raw.run("UPDATE EVENTS SET POS = ? WHERE POS = ?", (last + 1, position))


def swap_a_topic_for_another_event(raw: Raw) -> None:
    raw.run("UPDATE EVENTS SET topic = ? WHERE POS = ?",
            ("grants:RegionYear.Repaid/v1", _of(raw, "RegionYear.Reserved")[0]))


def swap_a_topic_for_a_module(raw: Raw) -> None:
    raw.run("UPDATE EVENTS SET topic = ? WHERE POS = ?", ("os:system", _of(raw, "Decision.Spent")[0]))


def swap_a_creation_topic(raw: Raw) -> None:
    """A decision's creation names another aggregate class to create."""
    position, _, _, _, state = _of(raw, "Decision.Decided", 2)
    data = json.loads(bytes(state))
    data["originator_topic"] = "subprocess:Popen"
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?", (json.dumps(data).encode(), position))


def drop_a_field(raw: Raw) -> None:
    position, _, _, _, state = _of(raw, "Decision.Spent")
    data = json.loads(bytes(state))
    del data["year"]
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?", (json.dumps(data).encode(), position))


def mistype_a_field(raw: Raw) -> None:
    position, _, _, _, state = _of(raw, "RegionYear.Allocated")
    data = json.loads(bytes(state))
    data["amount"] = "835730500"
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?", (json.dumps(data).encode(), position))


def garble_a_state(raw: Raw) -> None:
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?", (b'{"oops', _of(raw, "Decision.Decided", 4)[0]))


def raise_an_amount(raw: Raw) -> None:
    """An edit that breaks no rule: only a witness can tell."""
    position, _, _, _, state = _of(raw, "Decision.Spent", 1)
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?",
            (bytes(state).replace(b'"amount":500000', b'"amount":400000'), position))


def change_a_recorder(raw: Raw) -> None:
    position, _, _, _, state = raw.events()[5]
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?",
            (bytes(state).replace(b'"recorded_by":"anna"', b'"recorded_by":"eve"'), position))


def duplicate_an_event(raw: Raw) -> None:
    position, oid, version, topic, state = _of(raw, "Decision.Spent", 1)
    raw.run("INSERT INTO EVENTS (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (oid, version + 1, topic, state))


def forge_a_booking(raw: Raw) -> None:
    """A booking no one recorded, which breaks no rule."""
    position, oid, version, topic, state = _of(raw, "Decision.Spent", 1)
    last = max(e[2] for e in raw.events() if e[1] == oid)
    forged = bytes(state).replace(b'"voucher":"V2"', b'"voucher":"V9"').replace(b'"amount":500000', b'"amount":100')
    raw.run("INSERT INTO EVENTS (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (oid, last + 1, topic, forged))


def move_to_another_aggregate(raw: Raw) -> None:
    """A booking is moved onto another decision."""
    position = _of(raw, "Decision.Spent", 1)[0]
    other = _of(raw, "Decision.Decided", 5)
    raw.run("UPDATE EVENTS SET originator_id = ?, originator_version = 2 WHERE POS = ?", (other[1], position))


TAMPERS = [delete_a_decision_event, delete_the_first_event, delete_the_last_event, reorder_two_events,
           move_an_event_to_the_end, swap_a_topic_for_another_event, swap_a_topic_for_a_module,
           swap_a_creation_topic, drop_a_field, mistype_a_field, garble_a_state, raise_an_amount,
           change_a_recorder, duplicate_an_event, forge_a_booking, move_to_another_aggregate]


# Tampers whose forged event applies cleanly, so a query's catch-up takes it in before verify sees it.
TAKEN_IN = {forge_a_booking}


def _history(target: str) -> tuple[Grants, str]:
    """A ledger with bookings, a reversal, an amendment and a sealed report; and its digest."""
    grants = Grants(target)
    history_with_a_sealed_report(grants)
    grants("spend", G, "--decision", "JH-PM-03", "--year", "2018", "--amount", "500000",
           "--booked-on", "2018-10-01", "--object", "9902", "--voucher", "V3")
    digest = grants("verify").stdout.splitlines()[0].split("digest ")[-1].strip()
    return grants, digest


def _answers(grants: Grants) -> dict[str, str]:
    return {" ".join(q): grants(*q, fmt="json").stdout for q in QUERIES}


def _one_line_or_truth(grants: Grants, truth: dict[str, str]) -> None:
    """Every query stops with exit 4 in one line, or answers as the untouched history would."""
    for query in QUERIES:
        result = grants.runner.invoke(grants_cli(), ["--db", grants.db, "--format", "json", *query])
        assert result.exit_code in (0, 4), (query, result.output)
        assert "Traceback" not in result.output
        if result.exit_code == 4:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and "position" in lines[0], lines


def grants_cli():
    from commands.cli import cli

    return cli


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda t: t.__name__)
def test_a_single_altered_event_row_is_caught(tamper, tmp_path):
    """Each single-row alteration of the event table is caught by verify, or by the digest an
    auditor kept; commands meeting it stop with one line naming a position; undoing it needs no repair."""
    grants, digest = _history(str(tmp_path / "ledger.sqlite"))
    truth = _answers(grants)
    raw = Raw(grants.db)
    before = raw.events()
    try:
        tamper(raw)
        plain = grants.runner.invoke(grants_cli(), ["--db", grants.db, "verify"])
        witnessed = grants.runner.invoke(grants_cli(), ["--db", grants.db, "verify", "--digest", digest])
        assert plain.exit_code == 4 or witnessed.exit_code == 4, tamper.__name__
        assert witnessed.exit_code == 4
        for result in (plain, witnessed):
            assert result.exit_code in (0, 4) and "Traceback" not in result.output
        _one_line_or_truth(grants, truth)
    finally:
        raw.run("DELETE FROM EVENTS")
        for row in before:
            raw.run("INSERT INTO EVENTS (POS, originator_id, originator_version, topic, state) "
                    "VALUES (?, ?, ?, ?, ?)", row)
        raw.close()
    if tamper in TAKEN_IN:  # a forged event that applies cleanly was taken into the read models:
        said = grants("balance", G, code=4).stderr  # they say so, and a rebuild frees them
        assert "grants rebuild" in said
        grants("rebuild")
    assert _answers(grants) == truth
    assert "the history holds" in grants("verify", "--digest", digest).stdout


@pytest.mark.parametrize("tamper", [delete_a_decision_event, swap_a_topic_for_a_module, reorder_two_events,
                                    raise_an_amount], ids=lambda t: t.__name__)
def test_a_single_altered_event_row_is_caught_on_postgres(tamper, pg_url):
    """The same on PostgreSQL, whose positions may have gaps: versions, topics and the witness tell."""
    grants, digest = _history(pg_url)
    truth = _answers(grants)
    raw = Raw(pg_url)
    try:
        tamper(raw)
        witnessed = grants.runner.invoke(grants_cli(), ["--db", grants.db, "verify", "--digest", digest])
        assert witnessed.exit_code == 4 and "Traceback" not in witnessed.output
        _one_line_or_truth(grants, truth)
    finally:
        raw.close()


def test_verify_with_a_witness_proves_a_prefix(tmp_path):
    """verify --digest D --position N holds for the digest an audit printed at N, and names the
    position when the store no longer holds that history, or is shorter than it."""
    grants, _ = _history(str(tmp_path / "ledger.sqlite"))
    audit = grants.json("audit", G, "--year", "2018", "--position", "40")
    at = str(audit["position"])  # 40, or the start of the command position 40 falls inside
    out = grants("verify", "--digest", audit["digest"], "--position", at).stdout
    assert f"up to position {at} is exactly the one" in out
    other = grants.json("audit", G, "--year", "2018", "--position", str(int(at) - 1))["digest"]
    err = grants("verify", "--digest", other, "--position", at, code=4).stderr
    assert f"position {at}" in err and "not the witnessed one" in err
    err = grants("verify", "--digest", audit["digest"], "--position", "100000", code=4).stderr
    assert "ends at position" in err
    grants("verify", "--digest", "sha256:xyz", code=2)
    grants("verify", "--position", "4", code=2)


# --------------------------------------------------------------------------- the read models

RM_QUERIES = (["balance", G, "--region", "23"], ["commitments", G, "--region", "23"],
              ["compliance", G, "--on", "2019-03-01"], ["audit", G, "--year", "2018", "--on", "2019-03-01"],
              ["audit", G, "--year", "2018", "--region", "23", "--position", "1050", "--on", "2019-03-01"])


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    """A ledger past its first digest checkpoint, with a decision past its first kept state,
    its read models caught up; and what every read-model query answers on it."""
    from ledger.application import GrantLedger
    from ledger.persistence import store_env
    from ledger.values import Amount
    import datetime

    grants, _ = _history(str(tmp_path_factory.mktemp("busy") / "ledger.sqlite"))
    app = GrantLedger(env=store_env(grants.db))
    decisions = [f"JH-PM-{n:02d}" for n in range(1, 12)]
    for n in range(520):  # 70 on one decision (a kept state at its 64th version), the rest spread
        decision = "JH-PM-01" if n < 70 else decisions[n % len(decisions)]
        app.spend(G, decision, 2018, Amount(1), datetime.date(2018, 7, 1), "9902", f"B{n}", "", "anna")
    app.close()
    truth = {" ".join(q): grants(*q, fmt="json").stdout for q in RM_QUERIES}
    return grants, truth


def _cells(raw: Raw, table: str) -> tuple[list[str], tuple]:
    """The columns of a table and one of its rows that the queries above read."""
    pick = {"grants_rm_balances": "WHERE region = '23' AND year = 2018",
            "grants_rm_commitments": "WHERE decision = 'JH-PM-01'",
            "grants_rm_history": "WHERE region = '23' AND year = 2018 AND position < 1000",
            "grants_rm_aggregates": "WHERE kind = 'Decision'",
            "grants_rm_seals": "WHERE kind = 'Decision'",
            "grants_rm_snapshots": "", "grants_rm_checkpoints": "", "grants_rm_tracking": ""}[table]
    cursor = raw.conn.execute(f"SELECT * FROM {table} {pick} ORDER BY 1 LIMIT 1")
    row = cursor.fetchone()
    return [d[0] for d in cursor.description], None if row is None else tuple(row)


def _altered(value):
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        return value + 10_000_000_000
    if isinstance(value, str):
        return value[:-1] + ("X" if not value.endswith("X") else "Y") if value else "X"
    return bytes(value).replace(b"1", b"2", 1) if b"1" in bytes(value) else bytes(value) + b" "


def _read_model_tampers(raw: Raw) -> list[tuple[str, str, tuple]]:
    from projections.crosscheck import KEYS

    out = []
    for table, keys in KEYS.items():
        columns, row = _cells(raw, table)
        if row is None:  # a table this history leaves empty
            continue
        where = " AND ".join(f"{c} = ?" for c in keys)
        key = tuple(row[columns.index(c)] for c in keys)
        for i, column in enumerate(columns):
            out.append((f"{table}.{column} altered",
                        f"UPDATE {table} SET {column} = ? WHERE {where}", (_altered(row[i]), *key)))
        out.append((f"{table} row deleted", f"DELETE FROM {table} WHERE {where}", key))
        moved = tuple(_altered(v) if c in ("position", "id", "decision", "region", "name") and i == 0 or
                      c == columns[0] else v for i, (c, v) in enumerate(zip(columns, row)))
        marks = ", ".join("?" for _ in columns)
        out.append((f"{table} row added", f"INSERT INTO {table} VALUES ({marks})", moved))
    return out


def test_a_single_altered_read_model_row_is_caught_and_never_served(busy, tmp_path):
    """Every single-row alteration, deletion or insertion in every read-model table is caught by
    verify, and no query serves it: each answers as the events say, or stops with one line."""
    import shutil

    grants, truth = busy
    clean = tmp_path / "clean.sqlite"
    shutil.copy(grants.db, clean)
    raw = Raw(str(clean))
    tampers = _read_model_tampers(raw)
    raw.close()
    caught = served = 0
    for n, (name, sql, params) in enumerate(tampers):
        db = str(tmp_path / f"t{n}.sqlite")
        shutil.copy(clean, db)
        raw = Raw(db)
        try:
            changed = raw.change(sql, params)
        except Exception:  # a constraint refused the change: nothing altered, nothing to catch
            raw.close()
            continue
        raw.close()
        assert changed == 1, name
        target = Grants(db)
        result = target.runner.invoke(grants_cli(), ["--db", db, "verify"])
        assert result.exit_code == 4 and "read model" in result.output, (name, result.output)
        caught += 1
        for query in RM_QUERIES:
            r = target.runner.invoke(grants_cli(), ["--db", db, "--format", "json", *query])
            assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)
            if r.exit_code == 0:
                assert r.stdout == truth[" ".join(query)], (name, query)
            else:
                lines = r.stderr.strip().splitlines()
                assert r.exit_code == 4 and len(lines) == 1 and lines[0].startswith("error: "), (name, query, r.output)
                served += 1
    print(f"read-model tampers: {len(tampers)} tried, {caught} applied and caught by verify; "
          f"{served} query answers refused, none false")
    assert caught >= 60, caught


def test_a_single_altered_read_model_row_is_caught_on_postgres(pg_url):
    """On PostgreSQL too, each single-row change to a read model is caught by verify and never served."""
    grants, _ = _history(pg_url)
    queries = RM_QUERIES[:-1]
    sample = {"altered": 0, "deleted": 0, "added": 0}
    truth = {" ".join(q): grants(*q, fmt="json").stdout for q in queries}
    raw = Raw(pg_url)
    caught = 0
    try:
        for name, sql, params in _read_model_tampers(raw):
            table = name.split()[0].split(".")[0]
            kind = name.split()[-1]
            if sample[kind] >= 8:  # a sample of each kind of change: the SQLite test does them all
                continue
            sample[kind] += 1
            saved = raw.run(f"SELECT * FROM {table}")
            try:
                assert raw.change(sql, params) == 1, name
            except AssertionError:
                raise
            except Exception:  # a constraint refused the change: nothing altered
                continue
            result = grants.runner.invoke(grants_cli(), ["--db", pg_url, "verify"])
            assert result.exit_code == 4 and "read model" in result.output, (name, result.output)
            caught += 1
            for query in queries:
                r = grants.runner.invoke(grants_cli(), ["--db", pg_url, "--format", "json", *query])
                assert r.exit_code in (0, 4) and "Traceback" not in r.output, (name, query)
                assert r.exit_code == 4 or r.stdout == truth[" ".join(query)], (name, query)
            raw.run(f"DELETE FROM {table}")
            for row in saved:
                raw.run(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in row)})", row)
    finally:
        raw.close()
    assert caught >= 20, caught
