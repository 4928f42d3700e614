"""A read model that lies is caught and never served: single rows of every read-model table
altered, deleted or inserted behind the ledger's back, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.drivers import Grants
from tests.jamtland import G
from tests.read.tampering import Raw, _history, grants_cli

RM_QUERIES = (["balance", G, "--region", "23"], ["commitments", G, "--region", "23"],
              ["compliance", G, "--on", "2019-03-01"], ["audit", G, "--year", "2018", "--on", "2019-03-01"],
              ["list", "grants"], ["list", "decisions", G, "--region", "23"], ["show", "grant", G],
              ["show", "decision", G, "JH-PM-01"],
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
