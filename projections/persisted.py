"""Persisted read models: balances, commitments, and the aggregates compliance reads.

They live in the same database as the events (SQLite file or PostgreSQL schema), in
tables of their own, and are brought up to date incrementally: each catch-up reads the
events after the position it last processed, applies them with the same aggregate code
the fold uses, and writes the changed rows *and the new position in one transaction*.
A crash between two catch-ups loses nothing and applies nothing twice; two processes
catching up at once are serialised by a lock on the tracking row. "Now" queries read
these tables; as-of queries fold the events (``projections.fold``). ``rebuild`` clears
the tables and catches up from position 0.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from eventsourcing.persistence import StoredEvent

from ledger.application import GrantLedger

from ledger.persistence import store_env
from ledger.errors import Corrupt
from ledger.events import CATALOGUE, advance
from ledger.grant import Grant
from ledger.region_year import RegionYear
from ledger.decision import Decision
from ledger.values import Amount, Region
from projections.audit import GENESIS, Digest, audit, raw_record, reach
from projections.balances import FIGURES
from projections.bounds import Cut, is_boundary, whole_commands
from projections.fold import LedgerView
from projections import states
from projections.history import EVENT_TYPES, effective_date, summary

NAME = "grants-read-models/6"  # the layout: tables of another layout are dropped and rebuilt
# Every event topic but the voucher index's, which serves writes only.
FEEDS = frozenset(t for t in EVENT_TYPES if not t.startswith("grants:Voucher."))
CHECKPOINT = 1000  # positions between digest checkpoints
SNAPSHOT = 64  # versions between kept states of an aggregate, for as-of audits
HELP_FROM = 100_000  # events behind from which a catch-up takes a helper process
TABLES = ("grants_rm_tracking", "grants_rm_checkpoints", "grants_rm_aggregates", "grants_rm_snapshots",
          "grants_rm_history", "grants_rm_balances", "grants_rm_commitments", "grants_rm_seals")
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
        "repaid BIGINT, closed INTEGER, PRIMARY KEY (grant_id, region, year))",
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


class ReadModels:
    """The persisted read models of one ledger."""

    def __init__(self, target: str, checkpoint: int = CHECKPOINT, snapshot: int = SNAPSHOT,
                 create: bool = True, aside: str | None = None) -> None:
        """The read models of the ledger at ``target``; with ``aside`` (an SQLite path), read
        models built from that ledger's events but kept in another file (``verify`` compares)."""
        self.target = target
        self.checkpoint = checkpoint
        self.snapshot = snapshot
        self.aside = aside
        self.conn, self.postgres = _connect(aside or target)
        # where the events are read: the same database, or the ledger's when kept aside
        self.source, self.source_postgres = (self.conn, self.postgres) if aside is None else _connect(target)
        if create:
            self._create()
        self.writable = self._writable()

    def _writable(self) -> bool:
        """Whether this connection's role may update the read models (a PostgreSQL role
        granted only SELECT, an auditor's, may not: it reads them, or builds its own aside)."""
        if not self.postgres:
            return True
        try:
            return bool(self._run("SELECT has_table_privilege('grants_rm_tracking', 'UPDATE')").fetchone()[0])
        except Exception:  # no read models here yet
            return False

    def close(self) -> None:
        self.conn.close()
        if self.source is not self.conn:
            self.source.close()

    # ------------------------------------------------------------------ SQL, both dialects

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def _run(self, statement: str, params: Iterable[Any] = ()) -> Any:
        return self.conn.execute(self._sql(statement), tuple(params))

    def _many(self, statement: str, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.postgres:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(statement), rows)
        else:
            self.conn.executemany(statement, rows)

    def _begin(self) -> None:
        self._run("BEGIN" if self.postgres else "BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._run("COMMIT")

    def _rollback(self) -> None:
        self._run("ROLLBACK")

    def _create(self) -> None:
        if self._drop_if_outdated():
            return  # current: nothing to create (a role that may not create tables uses them)
        try:
            self._begin()
            for statement in _schema(self.postgres):
                self._run(statement)
            self._run("INSERT INTO grants_rm_tracking (name, position, digest, latest) "
                      "VALUES (?, 0, ?, NULL) ON CONFLICT (name) DO NOTHING", (NAME, GENESIS))
            self._commit()
        except Exception:
            self._rollback()
            raise

    def _drop_if_outdated(self) -> bool:
        """Read models are a rebuildable cache: tables of an older layout are dropped.
        True when they are of the current layout (nothing to drop or create)."""
        self._begin()
        try:
            names = [r[0] for r in self._run("SELECT name FROM grants_rm_tracking").fetchall()]
            self._commit()
        except Exception:  # no tracking table: no read models yet, or of a layout without one
            self._rollback()
            names = None
        if names == [NAME]:
            return True
        # the tracking row is created with the tables, in one transaction, and never removed
        if names is not None and not (names and all(_older_layout(n) for n in names)):
            raise _altered("their tracking row is missing, repeated or names no layout of the ledger's")
        self._begin()
        try:
            for table in TABLES:
                self._run(f"DROP TABLE IF EXISTS {table}")
            self._commit()
        except Exception:
            self._rollback()
            raise
        return False

    # ------------------------------------------------------------------ updating

    def position(self) -> int:
        row = self._run("SELECT position FROM grants_rm_tracking WHERE name = ?", (NAME,)).fetchone()
        return int(row[0])

    def catch_up(self, app: GrantLedger, batch: int = 5000,
                 progress: Callable[[int], None] | None = None, helper: bool | None = None,
                 stop: int | None = None) -> int:
        """Apply every event after the tracked position; returns how many positions it moved.

        ``stop`` is the last position to apply (None: all).
        A long catch-up (``HELP_FROM`` events or more, on a machine with two cores or more)
        shares the decisions' events with a helper process; ``helper`` True or False forces it.
        The helper is started the ``spawn`` way, so a script that calls this must guard its
        entry point with ``if __name__ == "__main__":`` (the ``grants`` command does).
        """
        if helper is None:
            helper = (self.aside is None and self.writable and (os.cpu_count() or 1) > 1
                      and app.last_position() - self.position() >= HELP_FROM)
        assistant = _Helper(self) if helper else None
        moved = 0
        try:
            while True:
                try:
                    done = self._apply_batch(app, batch, assistant, stop)
                except _HelperGone:  # the batch was rolled back: go on alone
                    assistant.close()
                    assistant = None
                    continue
                moved += done
                if progress and done:
                    progress(done)
                if not done:
                    return moved
        except BaseException:
            if assistant is not None:
                assistant.process.terminate()
            raise
        finally:
            if assistant is not None:
                assistant.close()

    def rebuild(self, app: GrantLedger, progress: Callable[[int], None] | None = None,
                helper: bool | None = None, batch: int = 20000) -> int:
        """Clear every read model and rebuild it from position 0."""
        self._begin()
        try:
            for table in TABLES[1:]:
                self._run(f"DELETE FROM {table}")
            self._run("UPDATE grants_rm_tracking SET position = 0, digest = ?, latest = NULL, head = NULL "
                      "WHERE name = ?", (GENESIS, NAME))
            self._commit()
        except Exception:
            self._rollback()
            raise
        return self.catch_up(app, batch=batch, progress=progress, helper=helper)

    def _apply_batch(self, app: GrantLedger, batch: int, helper: _Helper | None = None,
                     stop: int | None = None) -> int:
        """One transaction: lock the position, apply up to ``batch`` events, store rows and position.

        Every event is hashed into the running digest (from its stored bytes, without
        decoding it); a checkpoint of the digest is kept every ``CHECKPOINT`` positions.
        The voucher index's events feed no read model and are not decoded.
        Returns how many positions it moved forward (0 when there was nothing new).
        """
        self._begin()
        try:
            lock = " FOR UPDATE" if self.postgres and self.writable else ""
            start, value, latest, head = self._run(
                f"SELECT position, digest, latest, head FROM grants_rm_tracking WHERE name = ?{lock}",
                (NAME,)).fetchone()
            start = int(start)
            self._check_head(start, head)
            rows = self._stored(start + 1, batch, stop=stop)
            if not rows or not self.writable:
                # a read-only role answers as of the position the read models hold (the
                # session makes sure they were current when the query began)
                self._rollback()
                return 0
            digest = Digest()
            digest.value = value
            if helper is not None:
                helper.ask(start + 1, rows[-1][0])
            helped = helper is not None
            work = _Batch(self, {r[1] for r in rows if _mine(r[3], r[1], helped)})
            checkpoints = []
            for position, originator_id, version, topic, state in rows:
                if topic not in CATALOGUE:
                    app.decode(StoredEvent(originator_id=uuid.UUID(bytes=originator_id),
                                           originator_version=version, topic=topic, state=state), position)
                digest.add_stored(topic, originator_id, version, state)
                stamp = stamp_of(state, position)  # UTC ISO strings, which sort as the times do
                if _mine(topic, originator_id, helped):
                    work.apply_stored(app, position, originator_id, version, topic, state, stamp)
                latest = stamp if latest is None or stamp > latest else latest
                if position % self.checkpoint == 0:
                    checkpoints.append((position, digest.value, latest))
            changed = work.rows()
            if helper is not None:
                _merge(changed, helper.answer())
            _write(self, changed)
            self._many("INSERT INTO grants_rm_checkpoints (position, digest, latest) VALUES (?, ?, ?)",
                       checkpoints)
            reached = rows[-1][0]
            self._run("UPDATE grants_rm_tracking SET position = ?, digest = ?, latest = ?, head = ? "
                      "WHERE name = ?", (reached, digest.value, latest, _head(rows[-1]), NAME))
            self._commit()
            return reached - start
        except Exception:
            self._rollback()
            raise

    def _check_head(self, position: int, head: str | None) -> None:
        """The store must still hold, unchanged, the last event the read models applied."""
        if not position:
            return
        rows = self._stored(position, 1, stop=position)
        if not rows or _head(rows[0]) != head:
            what = "no longer holds it" if not rows else "holds another event there"
            raise Corrupt(f"the read models applied an event at position {position}, but the store {what}: "
                          "the store or the read models were altered (grants verify tells which; once the "
                          "store is right, grants rebuild makes the read models anew)")

    @property
    def _events(self) -> tuple[str, str]:
        """The ledger's event table and its position column, in this store."""
        return ("grants_events", "notification_id") if self.source_postgres else ("stored_events", "rowid")

    def _read_events(self, statement: str, params: Iterable[Any] = ()) -> Any:
        """A query on the ledger's event table."""
        sql = statement.replace("?", "%s") if self.source_postgres else statement
        return self.source.execute(sql, tuple(params))

    def _stored(self, start: int, limit: int, stop: int | None = None
                ) -> list[tuple[int, bytes, int, str, bytes]]:
        """Stored events from position ``start`` on, as (position, aggregate id bytes, version,
        topic, state), read straight from the event table: the digest and the read models
        need the stored bytes, and only the events they apply need decoding."""
        table, key = self._events
        sql = f"SELECT {key}, originator_id, originator_version, topic, state FROM {table} WHERE {key} >= ?"
        params: list[Any] = [start]
        if stop is not None:
            sql += f" AND {key} <= ?"
            params.append(stop)
        rows = self._read_events(sql + f" ORDER BY {key} LIMIT ?", [*params, limit]).fetchall()
        if self.source_postgres:
            return [(int(p), o.bytes, v, t, bytes(s)) for p, o, v, t, s in rows]
        try:
            return [(p, bytes.fromhex(o), v, t, s) for p, o, v, t, s in rows]
        except (TypeError, ValueError):
            bad = next(p for p, o, *_ in rows if not _is_hex_id(o))
            raise Corrupt(f"the stored event at position {bad} names no valid aggregate; the stored "
                          "history was altered (see grants verify)") from None

    # ------------------------------------------------------------------ the history, fast

    def seal(self, app: GrantLedger, grant_id: str, region: str, year: int
             ) -> tuple[dict[str, Amount], int, str]:
        """What a report filed now states: the year's figures, the position they are as of,
        and the digest of the history up to it (all from the caught-up read models)."""
        self.catch_up(app)
        position, value, latest = self._run("SELECT position, digest, latest FROM grants_rm_tracking "
                                            "WHERE name = ?", (NAME,)).fetchone()
        self._rehashed(int(position), value, latest)
        rows = self.balance_rows(grant_id, region, year)
        figures = {name: rows[0][name] if rows else Amount(0) for name in FIGURES}
        return figures, int(position), value

    def witnessed(self) -> dict[int, str]:
        """The digest chain's values the read models computed as they applied the events:
        at every checkpoint and at the last position applied."""
        found = {int(p): d for p, d in self._run("SELECT position, digest FROM grants_rm_checkpoints")}
        position, value = self._run("SELECT position, digest FROM grants_rm_tracking WHERE name = ?",
                                    (NAME,)).fetchone()
        if position:
            found[int(position)] = value
        return found

    def checkpoint_before(self, position: int | None = None, as_of: datetime.datetime | None = None
                          ) -> tuple[int, str]:
        """The last checkpoint at or before a position, or before anything recorded after a moment."""
        where, params = [], []
        if position is not None:
            where.append("position <= ?")
            params.append(position)
        if as_of is not None:
            where.append("latest <= ?")
            params.append(as_of.astimezone(datetime.timezone.utc).isoformat())
        sql = "SELECT position, digest, latest FROM grants_rm_checkpoints"
        if where:
            sql += " WHERE " + " AND ".join(where)
        row = self._run(sql + " ORDER BY position DESC LIMIT 1", params).fetchone()
        if row is None:
            return 0, GENESIS
        self._rehashed(int(row[0]), row[1], row[2])
        return int(row[0]), row[1]

    def _rehashed(self, position: int, value: str, latest: str | None) -> None:
        """A digest the read models keep (a checkpoint's, the tracking row's) must be what hashing
        the events from the checkpoint before it gives: at most one checkpoint's span of events."""
        before = self._run("SELECT position, digest, latest FROM grants_rm_checkpoints WHERE position < ? "
                           "ORDER BY position DESC LIMIT 1", (position,)).fetchone()
        start, digest_value, seen = (int(before[0]), before[1], before[2]) if before else (0, GENESIS, None)
        digest = Digest()
        digest.value = digest_value
        reached = start
        while reached < position:
            rows = self._stored(reached + 1, 2000, stop=position)
            if not rows:
                break
            for row in rows:
                digest.add_stored(row[3], row[1], row[2], row[4])
                stamp = stamp_of(row[4], row[0])
                seen = stamp if seen is None or stamp > seen else seen
            reached = rows[-1][0]
        if digest.value != value or seen != latest:
            raise _altered(f"the digest kept at position {position} is not what the events give")

    def year_heads(self, grant_id: str, year: int, region: str | None) -> list[tuple]:
        """The rows (checked against their seals) of the aggregates a year's audit replays: the
        grant, the region-years of the year, and the decisions that ever had money in it."""
        where, params = "grant_id = ? AND kind IN ('Grant', 'RegionYear', 'Decision')", [grant_id]
        if region is not None:
            where += " AND (region = ? OR region IS NULL)"
            params.append(region)
        rows = self._heads(where.replace("grant_id", "a.grant_id").replace("kind", "a.kind")
                           .replace("region", "a.region"), params)
        self._members(where, params, [r[0] for r in rows])
        return [r for r in rows if r[1] == "Grant" or (r[1] == "RegionYear" and r[4] == year)
                or (r[1] == "Decision" and f",{year}," in (r[5] or ""))]

    def _heads(self, where: str, params: list[Any]) -> list[tuple]:
        """Aggregate rows with their seals, each checked: (id, kind, ..., first, position, state)."""
        rows = self._run(f"SELECT {_HEAD} FROM grants_rm_aggregates a LEFT JOIN grants_rm_seals k "
                         f"ON k.id = a.id WHERE {where} ORDER BY a.first", params).fetchall()
        for row in rows:
            if row[9] != seal_of(*row[:9]):
                raise _altered(f"the row of aggregate {row[0]} does not match its seal")
        return rows

    def _members(self, where: str, params: list[Any], found: Iterable[str]) -> None:
        """The sealed aggregates in a scope must be exactly the rows found there."""
        sealed = {r[0] for r in self._run(f"SELECT id FROM grants_rm_seals WHERE {where}", params)}
        missing, extra = sealed - set(found), set(found) - sealed
        if missing or extra:
            which = sorted(missing or extra)[0]
            raise _altered(f"aggregate {which} is {'missing from' if missing else 'not sealed in'} the read models")

    def load(self, ids: Iterable[str]) -> dict[str, Any]:
        """Aggregates as they stand now (checked against their seals)."""
        found, firsts = {}, {}
        for part in _chunks(list(ids)):
            marks = ", ".join("?" for _ in part)
            rows = self._heads(f"a.id IN ({marks})", part)
            for id_, kind, *_, first, _, state, _ in rows:
                found[id_] = _decode_state(kind, state)
                firsts[id_] = first
            self._members(f"id IN ({marks})", part, found.keys() & set(part))
        self.firsts = firsts
        return found

    def states_at(self, app: GrantLedger, heads: list[tuple], cut: int) -> list[Any]:
        """Aggregates (given by their checked rows, see ``year_heads``) as they stood at
        position ``cut`` (those that existed by then).

        One not changed after the cut is taken as it stands now; another starts from its
        last kept state at or before the cut (or from nothing) and replays its own events
        up to the cut: at most ``snapshot`` events each.
        """
        states, later = {}, []
        ids = [h[0] for h in heads]
        for id_, kind, *_, position, state, _ in heads:
            if position <= cut:
                states[id_] = _decode_state(kind, state)
            else:
                later.append(id_)
        for part in _chunks(later):
            marks = ", ".join("?" for _ in part)
            for id_, position, state, seal, kind in self._run(
                    f"SELECT s.id, s.position, s.state, k.digest, a.kind FROM grants_rm_snapshots s "
                    f"JOIN grants_rm_aggregates a ON a.id = s.id "
                    f"LEFT JOIN grants_rm_seals k ON k.id = s.id || '@' || s.position WHERE s.id IN ({marks}) "
                    "AND s.position = (SELECT MAX(t.position) FROM grants_rm_snapshots t WHERE t.id = s.id "
                    "AND t.position <= ?)", [*part, cut]):
                if seal != seal_of(id_, position, state):
                    raise _altered(f"the kept state of aggregate {id_} at position {position} does not match its seal")
                states[id_] = _decode_state(kind, state)
        table, key = self._events
        for id_ in later:
            aggregate = states.get(id_)
            oid = uuid.UUID(id_)
            rows = self._read_events(
                f"SELECT {key}, originator_version, topic, state FROM {table} WHERE originator_id = ? "
                f"AND originator_version > ? AND {key} <= ? ORDER BY originator_version",
                (oid if self.source_postgres else oid.hex, aggregate.version if aggregate else 0, cut))
            for position, version, topic, state in rows:
                stored = StoredEvent(originator_id=oid, originator_version=version, topic=topic,
                                     state=bytes(state))
                aggregate = advance(aggregate, app.decode(stored, int(position)), int(position))
            if aggregate is not None:
                states[id_] = aggregate
        return [states[i] for i in ids if i in states]

    def year_events(self, grant_id: str, year: int, region: str | None, cut: int) -> list[dict[str, Any]]:
        """The lines a year's audit lists, up to position ``cut``, in recording order; each list
        (the year's lines of one region, or of every region) is checked against its sealed chain."""
        where, params = "grant_id = ? AND year = ?", [grant_id, year]
        if region is not None:
            where += " AND region IN ('', ?)"
            params.append(region)
        lines = self._run("SELECT region, position, recorded_at, recorded_by, type, effective, summary "
                          f"FROM grants_rm_history WHERE {where} ORDER BY position", params).fetchall()
        by_list: dict[str, list[tuple]] = {}
        for line in lines:
            by_list.setdefault(line[0], []).append(line)
        chains = {where_: _chain("", part) for where_, part in by_list.items()}
        ids = [_list_id(grant_id, year, r) for r in ([""] + ([region] if region else [r.code for r in Region.all()]))]
        marks = ", ".join("?" for _ in ids)
        sealed = {i: d for i, d in self._run(f"SELECT id, digest FROM grants_rm_seals WHERE id IN ({marks})", ids)}
        if sealed != {_list_id(grant_id, year, r): c for r, c in chains.items()}:
            raise _altered(f"the listing of {grant_id} {year} does not match its seal")
        parse_time, parse_day = datetime.datetime.fromisoformat, datetime.date.fromisoformat
        return [
            {"position": int(position), "recorded_at": parse_time(at), "recorded_by": by, "type": kind,
             "effective": None if on is None else parse_day(on), "summary": text, "region": where_ or None}
            for where_, position, at, by, kind, on, text in lines if position <= cut
        ]

    # ------------------------------------------------------------------ reading

    def balance_rows(self, grant_id: str, region: str | None, year: int | None) -> list[dict[str, Any]]:
        """Balance rows, each checked against its region-year's sealed state, and its spent
        against the year's commitments."""
        where, params = _filters(grant_id, region, year)
        stored = [tuple(r) for r in self._run(
            "SELECT grant_id, region, year, allocated, requisitioned, committed, reserved, 0, available, "
            f"shortfall, frame, repaid, closed, spent FROM grants_rm_balances WHERE {where} "
            "ORDER BY region, year", params)]
        scope, scope_params = "a.grant_id = ? AND a.kind = 'RegionYear'", [grant_id]
        if region is not None:
            scope += " AND a.region = ?"
            scope_params.append(region)
        heads = self._heads(scope, scope_params)
        self._members(scope.replace("a.", ""), scope_params, [h[0] for h in heads])
        expected = {(h[3], h[4]): balance_tuple(_decode_state("RegionYear", h[8])) for h in heads
                    if year is None or h[4] == year}
        spent = {(r, y): int(v) for r, y, v in self._run(
            f"SELECT region, year, SUM(spent) FROM grants_rm_commitments WHERE {where} GROUP BY region, year",
            params)}
        for row in stored:
            key = (row[1], row[2])
            if expected.pop(key, None) != row[:13] or spent.get(key, 0) != row[13]:
                raise _altered(f"the balance row of {grant_id} {key[0]} {key[1]} is not what its region-year "
                               "and commitments give")
        if expected:
            raise _altered(f"the balance row of {grant_id} {' '.join(map(str, next(iter(expected))))} is missing")
        rows = []
        for r in stored:
            region_code, y, *amounts, frame, repaid, closed = r[1:7] + (r[13],) + r[8:13]
            rows.append({
                "grant": grant_id, "region": region_code, "region_name": Region(region_code).name,
                "year": int(y),
                **{k: Amount(int(v)) for k, v in zip(AMOUNTS[:7], amounts)},
                "frame": None if frame is None else Amount(int(frame)),
                "repaid": Amount(int(repaid)), "closed": bool(closed),
            })
        return rows

    def commitment_rows(self, grant_id: str, region: str | None, year: int | None) -> list[dict[str, Any]]:
        """Commitment rows, each checked against its decision's sealed state."""
        where, params = _filters(grant_id, region, year)
        stored = [tuple(r) for r in self._run(
            "SELECT grant_id, decision, year, region, area, activity, purpose, amount, spent, remaining, status, "
            f"decided_by, decided_on FROM grants_rm_commitments WHERE {where} ORDER BY region, year, decision",
            params)]
        view = self.view_for(grant_id, region, year)
        expected = {t for d in view.grant_decisions(grant_id) for t in commitment_tuples(d)
                    if year is None or t[2] == year}
        if set(stored) != expected or len(stored) != len(expected):
            odd = sorted(set(stored) ^ expected, key=str)
            which = f"{odd[0][1]} {odd[0][2]}" if odd else "(a repeated row)"
            raise _altered(f"the commitment rows of {grant_id} (decision {which}) are not what the decisions give")
        rows = []
        for r in stored:
            _, decision, y, region_code, area, activity, purpose, amount, spent, remaining, status, by, on = r
            rows.append({
                "decision": decision, "region": region_code, "region_name": Region(region_code).name,
                "area": area, "activity": activity, "purpose": purpose, "year": int(y),
                "amount": Amount(int(amount)), "spent": Amount(int(spent)),
                "remaining": Amount(int(remaining)), "status": status, "decided_by": by,
                "decided_on": datetime.date.fromisoformat(on),
            })
        return rows

    def has_grant(self, grant_id: str) -> bool:
        return self._run("SELECT 1 FROM grants_rm_aggregates WHERE grant_id = ? AND kind = 'Grant'",
                         (grant_id,)).fetchone() is not None

    def view_for(self, grant_id: str, region: str | None, year: int | None = None) -> LedgerView:
        """A view with the grant, and the region-years and decisions of one region (or all),
        of one year (or all): a year's decisions are those that ever had money in it."""
        where, params = "grant_id = ? AND kind IN ('Grant', 'RegionYear', 'Decision')", [grant_id]
        if region is not None:
            where += " AND (region = ? OR region IS NULL)"
            params.append(region)
        rows = self._heads(where.replace("grant_id", "a.grant_id").replace("kind", "a.kind")
                           .replace("region", "a.region"), params)
        self._members(where, params, [r[0] for r in rows])
        view = LedgerView()
        for _, kind, _, _, y, years, _, _, state, _ in rows:
            if year is None or kind == "Grant" or y == year or f",{year}," in (years or ""):
                view.hold(_decode_state(kind, state))
        return view


_HEAD = "a.id, a.kind, a.grant_id, a.region, a.year, a.years, a.first, a.position, a.state, k.digest"


def _decode_state(kind: str, state: Any) -> Any:
    return states.load(bytes(state), kind)


def _encode_state(aggregate: Any) -> bytes:
    return states.dump(aggregate)


def seal_of(*cells: Any) -> str:
    """The hash of a row's cells, as a read model stores them: text, numbers and NULLs by their
    repr (which tells types apart), blobs appended whole."""
    blobs = [bytes(c) for c in cells if isinstance(c, (bytes, memoryview))]
    text = repr(tuple("<blob>" if isinstance(c, (bytes, memoryview)) else c for c in cells))
    h = hashlib.sha256(text.encode("utf-8", "surrogatepass"))
    for blob in blobs:
        h.update(len(blob).to_bytes(8, "big"))
        h.update(blob)
    return h.hexdigest()


def _older_layout(name: Any) -> bool:
    prefix, _, number = str(name).rpartition("/")
    current = int(NAME.rpartition("/")[2])
    return prefix == NAME.rpartition("/")[0] and number.isdigit() and int(number) < current


def _list_id(grant_id: str, year: int, region: str) -> str:
    return f"list/{grant_id}/{year}/{region}"


def _chain(before: str, lines: Iterable[tuple]) -> str:
    """A listing's chain with more lines: each line's cells (by their repr) hashed onto it, in order."""
    value, sha = bytes.fromhex(before) if before else b"", hashlib.sha256
    for line in lines:
        value = sha(value + repr(tuple(line)).encode("utf-8", "surrogatepass")).digest()
    return value.hex()


def _altered(what: str) -> Corrupt:
    return Corrupt(f"the read models were altered: {what} (grants verify says what else; grants rebuild "
                   "makes them anew from the events)")


def balance_tuple(a: RegionYear) -> tuple:
    """A region-year's balance row, spent apart (it comes from the decisions)."""
    return (a.grant_id, a.region, a.year, a.allocated.ore, a.requisitioned.ore, a.committed.ore,
            a.reserved.ore, 0, a.available.ore, a.shortfall.ore, a.frame, a.repaid.ore, int(a.closed))


def commitment_tuples(d: Decision) -> list[tuple]:
    """A decision's commitment rows, one per year it has money in."""
    return [(d.grant_id, d.decision_id, y, d.region, d.area, d.activity, d.purpose, d.committed_for(y).ore,
             d.spent_for(y).ore, d.remaining_for(y).ore, d.status, d.decided_by, d.decided_on.isoformat())
            for y in d.years]


def _filters(grant_id: str, region: str | None, year: int | None) -> tuple[str, list[Any]]:
    where, params = ["grant_id = ?"], [grant_id]
    if region is not None:
        where.append("region = ?")
        params.append(region)
    if year is not None:
        where.append("year = ?")
        params.append(year)
    return " AND ".join(where), params


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _is_hex_id(value: Any) -> bool:
    try:
        return len(bytes.fromhex(value)) == 16
    except (TypeError, ValueError):
        return False


def _years_text(years: Iterable[int]) -> str:
    return "," + ",".join(str(y) for y in sorted(years)) + ","


class _Batch:
    """The aggregates and rows one catch-up changes, written together at its end."""

    def __init__(self, models: ReadModels, ids: set[bytes]) -> None:
        self.models = models
        # the aggregates the batch's events belong to (by id bytes), as they stand so far
        self.ids = {i: uuid.UUID(bytes=i) for i in ids}
        loaded = models.load(str(u) for u in self.ids.values())
        self.aggregates: dict[bytes, Any] = {i: loaded.get(str(u)) for i, u in self.ids.items()}
        self.firsts = {i: models.firsts.get(str(u)) for i, u in self.ids.items()}
        self.last: dict[bytes, int] = {}  # aggregate id -> position of its last event
        self.first: dict[bytes, int] = {}  # for aggregates created in the batch: their first event
        self.spent_delta: dict[tuple[str, str, int], int] = {}
        self.snapshots: list[tuple] = []
        self.history: list[tuple] = []

    def apply_stored(self, app: GrantLedger, position: int, originator_id: bytes, version: int,
                     topic: str, state: bytes, stamp: str) -> None:
        """Decode a stored event of one of the batch's aggregates and apply it."""
        stored = StoredEvent(originator_id=self.ids[originator_id], originator_version=version,
                             topic=topic, state=state)
        self.apply(originator_id, app.decode(stored, position), position, stamp)

    def apply(self, key: bytes, event: Any, position: int, stamp: str) -> None:
        before = self.aggregates[key]
        if before is not None and event.originator_version <= before.version:
            raise Corrupt(f"the read models already hold the event at position {position} (version "
                          f"{event.originator_version} of its aggregate): their tracking position was moved "
                          "back; the read models were altered (grants rebuild makes them anew)")
        if before is None:
            self.first[key] = position
        spent_before = dict(before.spent_by_year) if isinstance(before, Decision) else {}
        aggregate = advance(before, event, position)
        self.aggregates[key] = aggregate
        self.last[key] = position
        if aggregate.version % self.models.snapshot == 0:
            self.snapshots.append((str(aggregate.id), position, _encode_state(aggregate)))
        if isinstance(aggregate, Decision):
            for year in set(spent_before) | set(aggregate.spent_by_year):
                delta = aggregate.spent_by_year.get(year, 0) - spent_before.get(year, 0)
                if delta:
                    k = (aggregate.grant_id, aggregate.region, year)
                    self.spent_delta[k] = self.spent_delta.get(k, 0) + delta
        self._listed(event, aggregate, position, stamp)

    def _listed(self, event: Any, aggregate: Any, position: int, stamp: str) -> None:
        """The event's lines in the audits of the years it belongs to (see ``audit.reach``)."""
        region, years = reach(event, aggregate)
        if years is None:  # every year of the grant: only the grant's own events say so
            years = aggregate.years if isinstance(aggregate, Grant) else ()
        if not years:
            return
        kind = EVENT_TYPES[type(event).TOPIC]
        effective = effective_date(event)
        line = (region or "", position, stamp, getattr(event, "recorded_by", ""), kind,
                None if effective is None else effective.isoformat(), summary(event, aggregate, kind))
        for year in years:
            self.history.append((aggregate.grant_id, year, *line))

    def rows(self) -> dict[str, Any]:
        """Everything the batch changed, as rows to write (picklable: a helper process sends them)."""
        heads, balances, decisions = [], [], []
        for key, position in self.last.items():
            a = self.aggregates[key]
            years = None
            if isinstance(a, RegionYear):
                balances.append(balance_tuple(a))
            elif isinstance(a, Decision):
                decisions.append(a)
                years = _years_text(a.years_ever)
            heads.append((str(a.id), type(a).__name__, a.grant_id, getattr(a, "region", None),
                          getattr(a, "year", None), years, self.first.get(key, self.firsts.get(key)), position,
                          _encode_state(a)))
        regions = {str(a.id): (a.grant_id, getattr(a, "region", None)) for a in self.aggregates.values()
                   if a is not None}
        seals = [(h[0], h[1], h[2], h[3], seal_of(*h)) for h in heads]
        seals += [(f"{i}@{p}", "kept", *regions[i], seal_of(i, p, state)) for i, p, state in self.snapshots]
        return {
            "heads": heads, "snapshots": self.snapshots, "seals": seals, "history": self.history, "balances": balances,
            "spent": self.spent_delta,
            "decisions": [(d.grant_id, d.decision_id) for d in decisions],
            "commitments": [t for d in decisions for t in commitment_tuples(d)],
        }


def _head(row: tuple[int, bytes, int, str, bytes]) -> str:
    """The hash of one stored event as read from the event table."""
    return hashlib.sha256(raw_record(row[3], row[1], row[2], row[4])).hexdigest()


def _merge(rows: dict[str, Any], more: dict[str, Any]) -> None:
    """Add the rows of another share of the same batch (its aggregates are its own)."""
    for name, value in more.items():
        if name == "spent":
            for key, delta in value.items():
                rows["spent"][key] = rows["spent"].get(key, 0) + delta
        else:
            rows[name].extend(value)


def _list_seals(m: ReadModels, history: list[tuple]) -> list[tuple]:
    """The listings' chains with a batch's new lines (from the caller and its helper) added in order."""
    lists: dict[str, list[tuple]] = {}
    for grant_id, year, region, *line in history:
        lists.setdefault(_list_id(grant_id, year, region), []).append((grant_id, region, tuple(line)))
    chains = {}
    for part in _chunks(list(lists)):
        marks = ", ".join("?" for _ in part)
        chains.update(m._run(f"SELECT id, digest FROM grants_rm_seals WHERE id IN ({marks})", part).fetchall())
    out = []
    for list_id, lines in lists.items():
        ordered = sorted(lines, key=lambda x: x[2][0])
        chain = _chain(chains.get(list_id, ""), ((region, *line) for _, region, line in ordered))
        out.append((list_id, lines[0][0], lines[0][1] or None, chain))
    return out


def _write(m: ReadModels, rows: dict[str, Any]) -> None:
    m._many("INSERT INTO grants_rm_aggregates (id, kind, grant_id, region, year, years, first, position, "
            "state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET years = excluded.years, "
            "first = excluded.first, position = excluded.position, state = excluded.state", rows["heads"])
    m._many("INSERT INTO grants_rm_snapshots (id, position, state) VALUES (?, ?, ?)", rows["snapshots"])
    m._many("INSERT INTO grants_rm_seals (id, kind, grant_id, region, digest) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET digest = excluded.digest", rows["seals"])
    m._many("INSERT INTO grants_rm_history (grant_id, year, region, position, recorded_at, recorded_by, "
            "type, effective, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows["history"])
    m._many("INSERT INTO grants_rm_seals (id, kind, grant_id, region, digest) VALUES (?, 'list', ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET digest = excluded.digest", _list_seals(m, rows["history"]))
    m._many("INSERT INTO grants_rm_balances (grant_id, region, year, allocated, requisitioned, "
            "committed, reserved, spent, available, shortfall, frame, repaid, closed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (grant_id, region, year) "
            "DO UPDATE SET allocated = excluded.allocated, requisitioned = excluded.requisitioned, "
            "committed = excluded.committed, reserved = excluded.reserved, "
            "available = excluded.available, shortfall = excluded.shortfall, "
            "frame = excluded.frame, repaid = excluded.repaid, closed = excluded.closed", rows["balances"])
    m._many("UPDATE grants_rm_balances SET spent = spent + ? WHERE grant_id = ? AND region = ? "
            "AND year = ?", [(d, g, r, y) for (g, r, y), d in rows["spent"].items()])
    m._many("DELETE FROM grants_rm_commitments WHERE grant_id = ? AND decision = ?", rows["decisions"])
    m._many("INSERT INTO grants_rm_commitments (grant_id, decision, year, region, area, activity, "
            "purpose, amount, spent, remaining, status, decided_by, decided_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows["commitments"])


# --------------------------------------------------------------------------- a helper process

DECISION_EVENTS = "grants:Decision."
# With a helper, the helper applies the decisions whose id's first byte is odd, the caller the
# others (and everything else): measured, the two then finish a batch at about the same time,
# as the caller also hashes every event and writes the rows.


def _mine(topic: str, originator_id: bytes, helped: bool) -> bool:
    """Whether the catching-up process applies an event itself (else its helper does)."""
    return topic in FEEDS and not (helped and topic.startswith(DECISION_EVENTS) and originator_id[0] & 1)


def _helper(target: str, snapshot: int, pipe: Any) -> None:
    """A helper process: apply its share of the decisions' events of each batch it is sent.

    It reads the events and the aggregates' states (as the last committed batch left them)
    through a connection of its own, and sends back the rows; the caller writes them in
    the batch's transaction with its own share and the new position.
    """
    models = ReadModels(target, snapshot=snapshot, create=False)
    app = GrantLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        while (request := pipe.recv()) is not None:
            start, stop = request
            try:
                share = [r for r in models._stored(start, stop - start + 1, stop=stop)
                         if r[3].startswith(DECISION_EVENTS) and r[1][0] & 1]
                work = _Batch(models, {r[1] for r in share})
                for position, originator_id, version, topic, state in share:
                    work.apply_stored(app, position, originator_id, version, topic, state,
                                      stamp_of(state, position))
                pipe.send(("rows", work.rows()))
            except Exception as e:  # sent to the caller, which raises it
                pipe.send(("error", e))
    finally:
        models.close()


class _Helper:
    """A helper process for a long catch-up (a rebuild, a first query after an import)."""

    def __init__(self, models: ReadModels) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(target=_helper, args=(models.target, models.snapshot, theirs),
                                       daemon=True)
        self.process.start()

    def ask(self, start: int, stop: int) -> None:
        try:
            self.pipe.send((start, stop))
        except OSError:
            raise _HelperGone() from None

    def answer(self) -> dict[str, Any]:
        try:
            kind, value = self.pipe.recv()
        except (EOFError, OSError):
            raise _HelperGone() from None
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        try:
            self.pipe.send(None)
            self.process.join(timeout=10)
        except OSError:
            pass
        finally:
            if self.process.is_alive():
                self.process.terminate()


class _HelperGone(Exception):
    """The helper process stopped (it writes nothing, so the batch is simply redone alone)."""


_STAMP = re.compile(rb'"timestamp":\{"_type_":"datetime_iso","_data_":"([^"]+)"')
_PREFIX = b'{"timestamp":{"_type_":"datetime_iso","_data_":"'


def stamp_of(state: bytes, position: int = 0) -> str:
    """An event's recording time, read from its stored bytes without decoding them."""
    if state.startswith(_PREFIX):
        return state[len(_PREFIX):state.index(b'"', len(_PREFIX))].decode()
    match = _STAMP.search(bytes(state[:400]))
    if match is None:
        raise Corrupt(f"the stored event at position {position} has no recording time; the stored "
                      "history was altered (see grants verify)")
    return match.group(1).decode()


def audit_year(models: ReadModels, app: GrantLedger, grant_id: str, year: int, region: str | None,
               position: int | None, as_of: datetime.datetime | None, on: datetime.date,
               cut: Cut | None = None) -> dict:
    """The same audit as folding the whole prefix (``projections.audit.audit``), fast.

    The digest starts from the nearest checkpoint that is a command boundary and hashes
    only the events after it. The replay stops where the fold's does: in whole commands
    (``projections.bounds.whole_commands``; ``cut`` says where and why). The aggregates a
    year's audit needs (the grant, the year's region-years and the decisions that ever
    had money in the year) are taken as they stood at the cut: as they stand now when
    unchanged since, else from their last kept state before it plus their own events up
    to it. The lines it lists are read from the persisted history.
    """
    models.catch_up(app)
    head = models.position()
    limit = head if position is None else min(position, head)
    start, value = models.checkpoint_before(position=limit, as_of=as_of)
    while start and not is_boundary(models._stored(start, 3), _row_bounds):
        start, value = models.checkpoint_before(position=start - 1, as_of=as_of)
    digest = Digest()
    digest.value = value
    reached, last_stamp = start, None
    cut = cut if cut is not None else Cut()
    cut.answered = start
    if position is not None or as_of is not None:
        rows = whole_commands(_rows_from(models, start + 1, head), _row_bounds, position, as_of, cut)
    else:
        rows = _rows_from(models, start + 1, head)
    for position_, originator_id, version, topic, state in rows:
        digest.add_stored(topic, originator_id, version, state)
        reached = position_
        last_stamp = _stamp(state, position_)
    cut.answered = reached
    view = LedgerView(position=reached)
    for aggregate in models.states_at(app, models.year_heads(grant_id, year, region), reached):
        view.hold(aggregate)
    if last_stamp is None and reached:
        last_stamp = _stamp(models._stored(reached, 1)[0][4], reached)
    return audit(view, digest.value, grant_id, year, region, as_of, on, last_stamp,
                 models.year_events(grant_id, year, region, reached))


def _stamp(state: bytes, position: int) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp_of(state, position))


def _row_bounds(row: tuple[int, bytes, int, str, bytes]) -> tuple[int, str, bytes, datetime.datetime]:
    """What :func:`projections.bounds.whole_commands` needs of a stored row."""
    return row[0], row[3], row[1], _stamp(row[4], row[0])


def _rows_from(models: ReadModels, start: int, stop: int) -> Iterable[tuple[int, bytes, int, str, bytes]]:
    """Stored rows from position ``start`` to ``stop``, read in batches as they are needed."""
    while start <= stop:
        rows = models._stored(start, 2000, stop=stop)
        if not rows:
            return
        yield from rows
        start = rows[-1][0] + 1
