"""The read models' tables: their layout (NAME), the SQL that makes them, connecting."""

from __future__ import annotations


import sqlite3
from typing import Any



from ledger.stores import store_env


NAME = "grants-read-models/13"  # the layout: tables of another layout are dropped and rebuilt
CHECKPOINT = 1000  # positions between digest checkpoints
SNAPSHOT = 16  # versions between kept states of an aggregate, for as-of answers (at most this many events replayed each)
HELP_FROM = 100_000  # events behind from which a catch-up takes a helper process
TABLES = ("grants_rm_tracking", "grants_rm_checkpoints", "grants_rm_aggregates", "grants_rm_snapshots",
          "grants_rm_history", "grants_rm_balances", "grants_rm_commitments", "grants_rm_seals")


class _HelperGone(Exception):
    """The helper process stopped (it writes nothing, so the batch is simply redone alone);
    here, so that a catch-up with nothing to do imports no helper (see helper.py)."""


KINDS = ("Grant", "RegionYear", "Decision")
AMOUNTS = ("allocated", "requisitioned", "committed", "reserved", "spent", "available", "shortfall",
           "repaid")


def _schema(postgres: bool) -> list[str]:
    blob = "BYTEA" if postgres else "BLOB"
    keyed = "" if postgres else " WITHOUT ROWID"  # SQLite: the rows live in their key's b-tree
    return [
        # the position applied, the digest chain's value there, the latest recording time so far,
        # and the hash of the event at the position (the store must still hold it)
        "CREATE TABLE IF NOT EXISTS grants_rm_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL, "
        "digest TEXT NOT NULL, latest TEXT, head TEXT)",
        "CREATE TABLE IF NOT EXISTS grants_rm_checkpoints (position BIGINT PRIMARY KEY, "
        "digest TEXT NOT NULL, latest TEXT)",
        # each aggregate as it stands now, with the positions of its first and last events, and
        # the years a decision ever had money in (",2017,2018,"), so a year's audit finds its
        # decisions; views list aggregates in the order they were created, as the fold does
        f"CREATE TABLE IF NOT EXISTS grants_rm_aggregates (id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
        f"grant_id TEXT NOT NULL, region TEXT, year INTEGER, years TEXT, first BIGINT, "
        f"position BIGINT NOT NULL, state {blob} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS grants_rm_aggregates_by_region ON grants_rm_aggregates "
        "(grant_id, region)",
        # each aggregate as it stood at every SNAPSHOT-th version (as-of audits start there)
        f"CREATE TABLE IF NOT EXISTS grants_rm_snapshots (id TEXT NOT NULL, position BIGINT NOT NULL, "
        f"state {blob} NOT NULL, PRIMARY KEY (id, position)){keyed}",
        # the lines a year's audit lists, one per event and year it belongs to ('' = every region)
        "CREATE TABLE IF NOT EXISTS grants_rm_history (grant_id TEXT NOT NULL, year INTEGER NOT NULL, "
        "region TEXT NOT NULL, position BIGINT NOT NULL, recorded_at TEXT NOT NULL, recorded_by TEXT, "
        "type TEXT NOT NULL, effective TEXT, summary TEXT NOT NULL, "
        f"PRIMARY KEY (grant_id, year, region, position)){keyed}",
        # the hash of each aggregate's row and of each kept state, in a table of its own: a row
        # altered, added or removed on its own no longer matches its seal
        "CREATE TABLE IF NOT EXISTS grants_rm_seals (id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
        "grant_id TEXT NOT NULL, region TEXT, digest TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS grants_rm_seals_by_region ON grants_rm_seals (grant_id, region)",
        "CREATE TABLE IF NOT EXISTS grants_rm_balances (grant_id TEXT NOT NULL, region TEXT NOT NULL, "
        "year INTEGER NOT NULL, allocated BIGINT, requisitioned BIGINT, committed BIGINT, "
        "reserved BIGINT, spent BIGINT, available BIGINT, shortfall BIGINT, frame BIGINT, "
        "repaid BIGINT, closed INTEGER, paid BIGINT, reclaimed BIGINT, waived BIGINT, PRIMARY KEY (grant_id, region, year))",
        "CREATE TABLE IF NOT EXISTS grants_rm_commitments (grant_id TEXT NOT NULL, decision TEXT NOT NULL, "
        "year INTEGER NOT NULL, region TEXT, area TEXT, activity TEXT, purpose TEXT, amount BIGINT, "
        "spent BIGINT, remaining BIGINT, status TEXT, decided_by TEXT, decided_on TEXT, "
        "PRIMARY KEY (grant_id, decision, year))",
    ]


def _connect(target: str) -> tuple[Any, bool]:
    """A connection (autocommit; transactions are begun explicitly) and whether it is PostgreSQL."""
    env = store_env(target)
    if env["PERSISTENCE_MODULE"].endswith("postgres"):
        import psycopg

        conn = psycopg.connect(
            host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"] or None, connect_timeout=5,
            autocommit=True,
        )
        if env.get("POSTGRES_SCHEMA"):
            from psycopg import sql

            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(env["POSTGRES_SCHEMA"])))
        return conn, True
    conn = sqlite3.connect(env["SQLITE_DBNAME"], timeout=30, isolation_level=None)
    # The ledger's store runs in WAL mode, where NORMAL still keeps every commit atomic
    # and the file consistent; a read-model commit lost to a power cut is redone by
    # the next catch-up. (This connection's setting; the ledger's own is untouched.)
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn, False


def _older_layout(name: Any) -> bool:
    prefix, _, number = str(name).rpartition("/")
    current = int(NAME.rpartition("/")[2])
    return prefix == NAME.rpartition("/")[0] and number.isdigit() and int(number) < current
