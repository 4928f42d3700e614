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
import pickle
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from eventsourcing.persistence import StoredEvent

from ledger.application import GrantLedger, store_env
from ledger.errors import Corrupt
from ledger.grant import grant_uuid
from ledger.budget import RegionYear
from ledger.decision import Decision
from ledger.values import Amount, Region
from projections.audit import GENESIS, Digest, audit, raw_record
from projections.balances import FIGURES
from projections.fold import Entry, LedgerView, fold
from projections.history import EVENT_TYPES

NAME = "grants-read-models"
# Every event topic but the voucher index's, which serves writes only.
FEEDS = frozenset(t for t in EVENT_TYPES if not t.startswith("grants:Voucher."))
CHECKPOINT = 1000  # positions between digest checkpoints
TABLES = ("grants_rm_tracking", "grants_rm_checkpoints", "grants_rm_aggregates", "grants_rm_balances",
          "grants_rm_commitments")
AMOUNTS = ("allocated", "requisitioned", "committed", "reserved", "spent", "available", "shortfall",
           "repaid")


def _schema(blob: str) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS grants_rm_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL, "
        "digest TEXT NOT NULL, latest TEXT)",
        "CREATE TABLE IF NOT EXISTS grants_rm_checkpoints (position BIGINT PRIMARY KEY, "
        "digest TEXT NOT NULL, latest TEXT)",
        f"CREATE TABLE IF NOT EXISTS grants_rm_aggregates (id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
        f"grant_id TEXT NOT NULL, region TEXT, year INTEGER, state {blob} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS grants_rm_aggregates_by_region ON grants_rm_aggregates "
        "(grant_id, region)",
        "CREATE TABLE IF NOT EXISTS grants_rm_balances (grant_id TEXT NOT NULL, region TEXT NOT NULL, "
        "year INTEGER NOT NULL, allocated BIGINT, requisitioned BIGINT, committed BIGINT, "
        "reserved BIGINT, spent BIGINT, available BIGINT, shortfall BIGINT, frame BIGINT, "
        "repaid BIGINT, closed INTEGER, PRIMARY KEY (grant_id, region, year))",
        "CREATE TABLE IF NOT EXISTS grants_rm_commitments (grant_id TEXT NOT NULL, decision TEXT NOT NULL, "
        "year INTEGER NOT NULL, region TEXT, area TEXT, activity TEXT, purpose TEXT, amount BIGINT, "
        "spent BIGINT, remaining BIGINT, status TEXT, decided_by TEXT, decided_on TEXT, "
        "PRIMARY KEY (grant_id, decision, year))",
    ]


class ReadModels:
    """The persisted read models of one ledger."""

    def __init__(self, target: str, checkpoint: int = CHECKPOINT) -> None:
        self.checkpoint = checkpoint
        env = store_env(target)
        self.postgres = env["PERSISTENCE_MODULE"].endswith("postgres")
        if self.postgres:
            import psycopg

            self.conn = psycopg.connect(
                host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), dbname=env["POSTGRES_DBNAME"],
                user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"] or None, connect_timeout=5,
                autocommit=True,
            )
            if env.get("POSTGRES_SCHEMA"):
                self.conn.execute(f'SET search_path TO "{env["POSTGRES_SCHEMA"]}"')
        else:
            self.conn = sqlite3.connect(env["SQLITE_DBNAME"], timeout=30, isolation_level=None)
        self._create()

    def close(self) -> None:
        self.conn.close()

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
        self._drop_if_outdated()
        try:
            self._begin()
            for statement in _schema("BYTEA" if self.postgres else "BLOB"):
                self._run(statement)
            self._run("INSERT INTO grants_rm_tracking (name, position, digest, latest) "
                      "VALUES (?, 0, ?, NULL) ON CONFLICT (name) DO NOTHING", (NAME, GENESIS))
            self._commit()
        except Exception:
            self._rollback()
            raise

    def _drop_if_outdated(self) -> None:
        """Read models are a rebuildable cache: tables of an older layout are dropped."""
        self._begin()
        try:
            self._run("SELECT position, digest, latest FROM grants_rm_tracking WHERE name = ?", (NAME,))
            self._commit()
            return
        except Exception:
            self._rollback()
        self._begin()
        try:
            for table in TABLES:
                self._run(f"DROP TABLE IF EXISTS {table}")
            self._commit()
        except Exception:
            self._rollback()
            raise

    # ------------------------------------------------------------------ updating

    def position(self) -> int:
        row = self._run("SELECT position FROM grants_rm_tracking WHERE name = ?", (NAME,)).fetchone()
        return int(row[0])

    def catch_up(self, app: GrantLedger, batch: int = 5000,
                 progress: Callable[[int], None] | None = None) -> int:
        """Apply every event after the tracked position; returns how many positions it moved."""
        moved = 0
        while True:
            done = self._apply_batch(app, batch)
            moved += done
            if progress and done:
                progress(done)
            if not done:
                return moved

    def rebuild(self, app: GrantLedger, progress: Callable[[int], None] | None = None) -> int:
        """Clear every read model and rebuild it from position 0."""
        self._begin()
        try:
            for table in ("grants_rm_aggregates", "grants_rm_balances", "grants_rm_commitments",
                          "grants_rm_checkpoints"):
                self._run(f"DELETE FROM {table}")
            self._run("UPDATE grants_rm_tracking SET position = 0, digest = ?, latest = NULL "
                      "WHERE name = ?", (GENESIS, NAME))
            self._commit()
        except Exception:
            self._rollback()
            raise
        return self.catch_up(app, batch=20000, progress=progress)

    def _apply_batch(self, app: GrantLedger, batch: int) -> int:
        """One transaction: lock the position, apply up to ``batch`` events, store rows and position.

        Every event is hashed into the running digest (from its stored bytes, without
        decoding it); a checkpoint of the digest is kept every ``CHECKPOINT`` positions.
        The voucher index's events feed no read model and are not decoded.
        Returns how many positions it moved forward (0 when there was nothing new).
        """
        self._begin()
        try:
            lock = " FOR UPDATE" if self.postgres else ""
            start, value, latest = self._run(
                f"SELECT position, digest, latest FROM grants_rm_tracking WHERE name = ?{lock}",
                (NAME,)).fetchone()
            start = int(start)
            notifications = app.recorder.select_notifications(start=start + 1, limit=batch)
            if not notifications:
                self._rollback()
                return 0
            digest = Digest()
            digest.value = value
            work = _Batch(self)
            checkpoints = []
            for n in notifications:
                digest.add_raw(raw_record(n.topic, n.originator_id, n.originator_version, n.state))
                if n.topic in FEEDS:
                    work.apply(app.decode(n, n.id))
                stamp = stamp_of(n.state, n.id)  # UTC ISO strings, which sort as the times do
                latest = stamp if latest is None or stamp > latest else latest
                if n.id % self.checkpoint == 0:
                    checkpoints.append((n.id, digest.value, latest))
            work.write()
            self._many("INSERT INTO grants_rm_checkpoints (position, digest, latest) VALUES (?, ?, ?)",
                       checkpoints)
            reached = notifications[-1].id
            self._run("UPDATE grants_rm_tracking SET position = ?, digest = ?, latest = ? WHERE name = ?",
                      (reached, digest.value, latest, NAME))
            self._commit()
            return reached - start
        except Exception:
            self._rollback()
            raise

    # ------------------------------------------------------------------ the history, fast

    def seal(self, app: GrantLedger, grant_id: str, region: str, year: int
             ) -> tuple[dict[str, Amount], int, str]:
        """What a report filed now states: the year's figures, the position they are as of,
        and the digest of the history up to it (all from the caught-up read models)."""
        self.catch_up(app)
        position, value = self._run("SELECT position, digest FROM grants_rm_tracking WHERE name = ?",
                                    (NAME,)).fetchone()
        rows = self.balance_rows(grant_id, region, year)
        figures = {name: rows[0][name] if rows else Amount(0) for name in FIGURES}
        return figures, int(position), value

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
        sql = "SELECT position, digest FROM grants_rm_checkpoints"
        if where:
            sql += " WHERE " + " AND ".join(where)
        row = self._run(sql + " ORDER BY position DESC LIMIT 1", params).fetchone()
        return (int(row[0]), row[1]) if row else (0, GENESIS)

    def events_of(self, app: GrantLedger, ids: list[str], upto_position: int) -> list[Entry]:
        """The stored events of some aggregates, up to a position, in recording order."""
        table = "grants_events" if self.postgres else "stored_events"
        key = "notification_id" if self.postgres else "rowid"
        entries = []
        for chunk in range(0, len(ids), 400):
            part = ids[chunk:chunk + 400]
            marks = ", ".join("?" for _ in part)
            params = [uuid.UUID(i) if self.postgres else uuid.UUID(i).hex for i in part]
            rows = self._run(
                f"SELECT {key}, originator_id, originator_version, topic, state FROM {table} "
                f"WHERE originator_id IN ({marks}) AND {key} <= ?", [*params, upto_position])
            for position, originator_id, version, topic, state in rows:
                stored = StoredEvent(originator_id=uuid.UUID(str(originator_id)),
                                     originator_version=version, topic=topic, state=bytes(state))
                entries.append(Entry(int(position), app.decode(stored, int(position)), bytes(state)))
        entries.sort(key=lambda e: e.position)
        return entries

    def year_aggregate_ids(self, grant_id: str, year: int, region: str | None) -> list[str]:
        """The aggregates a year's audit replays: the grant, the region-years of the year,
        and the decisions that ever had money in it."""
        ids = [str(grant_uuid(grant_id))]
        where, params = "grant_id = ? AND kind = 'RegionYear' AND year = ?", [grant_id, year]
        if region is not None:
            where += " AND region = ?"
            params.append(region)
        ids += [r[0] for r in self._run(f"SELECT id FROM grants_rm_aggregates WHERE {where}", params)]
        where, params = "grant_id = ? AND kind = 'Decision'", [grant_id]
        if region is not None:
            where += " AND region = ?"
            params.append(region)
        for id_, state in self._run(f"SELECT id, state FROM grants_rm_aggregates WHERE {where}", params):
            if year in pickle.loads(bytes(state)).years_ever:
                ids.append(id_)
        return ids

    def load(self, ids: Iterable[str]) -> dict[str, Any]:
        ids = list(ids)
        found = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ", ".join("?" for _ in part)
            for id_, state in self._run(
                    f"SELECT id, state FROM grants_rm_aggregates WHERE id IN ({marks})", part):
                found[id_] = pickle.loads(bytes(state))
        return found

    # ------------------------------------------------------------------ reading

    def balance_rows(self, grant_id: str, region: str | None, year: int | None) -> list[dict[str, Any]]:
        where, params = _filters(grant_id, region, year)
        rows = []
        for r in self._run(
                "SELECT region, year, allocated, requisitioned, committed, reserved, spent, available, "
                f"shortfall, frame, repaid, closed FROM grants_rm_balances WHERE {where} "
                "ORDER BY region, year", params):
            region_code, y, *amounts, frame, repaid, closed = r
            rows.append({
                "grant": grant_id, "region": region_code, "region_name": Region(region_code).name,
                "year": int(y),
                **{k: Amount(int(v)) for k, v in zip(AMOUNTS[:7], amounts)},
                "frame": None if frame is None else Amount(int(frame)),
                "repaid": Amount(int(repaid)), "closed": bool(closed),
            })
        return rows

    def commitment_rows(self, grant_id: str, region: str | None, year: int | None) -> list[dict[str, Any]]:
        where, params = _filters(grant_id, region, year)
        rows = []
        for r in self._run(
                "SELECT decision, region, area, activity, purpose, year, amount, spent, remaining, status, "
                f"decided_by, decided_on FROM grants_rm_commitments WHERE {where} "
                "ORDER BY region, year, decision", params):
            decision, region_code, area, activity, purpose, y, amount, spent, remaining, status, by, on = r
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

    def view_for(self, grant_id: str, region: str | None) -> LedgerView:
        """A view with the grant, and the region-years and decisions of one region (or all)."""
        where, params = "grant_id = ?", [grant_id]
        if region is not None:
            where += " AND (region = ? OR region IS NULL)"
            params.append(region)
        view = LedgerView()
        for _, state in self._run(f"SELECT id, state FROM grants_rm_aggregates WHERE {where}", params):
            aggregate = pickle.loads(bytes(state))
            view.by_id[aggregate.id] = aggregate
            view._index(aggregate)
        return view


def _filters(grant_id: str, region: str | None, year: int | None) -> tuple[str, list[Any]]:
    where, params = ["grant_id = ?"], [grant_id]
    if region is not None:
        where.append("region = ?")
        params.append(region)
    if year is not None:
        where.append("year = ?")
        params.append(year)
    return " AND ".join(where), params


def _take(iterator, n: int):
    for i, item in enumerate(iterator):
        if i >= n:
            return
        yield item


class _Batch:
    """The aggregates and rows one catch-up changes, written together at its end."""

    def __init__(self, models: ReadModels) -> None:
        self.models = models
        self.aggregates: dict[str, Any] = {}
        self.dirty: set[str] = set()
        self.spent_delta: dict[tuple[str, str, int], int] = {}

    def _get(self, key: Any) -> Any:
        if key not in self.aggregates:
            self.aggregates[key] = self.models.load([str(key)]).get(str(key))
        return self.aggregates[key]

    def apply(self, event: Any) -> None:
        key = event.originator_id
        before = self._get(key)
        spent_before = dict(before.spent_by_year) if isinstance(before, Decision) else {}
        aggregate = event.mutate(before)
        self.aggregates[key] = aggregate
        self.dirty.add(key)
        if isinstance(aggregate, Decision):
            for year in set(spent_before) | set(aggregate.spent_by_year):
                delta = aggregate.spent_by_year.get(year, 0) - spent_before.get(year, 0)
                if delta:
                    k = (aggregate.grant_id, aggregate.region, year)
                    self.spent_delta[k] = self.spent_delta.get(k, 0) + delta

    def write(self) -> None:
        m = self.models
        rows, region_years, decisions = [], [], []
        for key in self.dirty:
            a = self.aggregates[key]
            kind = type(a).__name__
            region = getattr(a, "region", None)
            year = getattr(a, "year", None)
            rows.append((str(key), kind, a.grant_id, region, year, pickle.dumps(a, pickle.HIGHEST_PROTOCOL)))
            if isinstance(a, RegionYear):
                region_years.append(a)
            elif isinstance(a, Decision):
                decisions.append(a)
        m._many("INSERT INTO grants_rm_aggregates (id, kind, grant_id, region, year, state) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state", rows)
        balance = []
        for ry in region_years:
            balance.append((ry.grant_id, ry.region, ry.year, ry.allocated.ore, ry.requisitioned.ore,
                            ry.committed.ore, ry.reserved.ore, 0, ry.available.ore, ry.shortfall.ore,
                            ry.frame, ry.repaid.ore, int(ry.closed)))
        m._many("INSERT INTO grants_rm_balances (grant_id, region, year, allocated, requisitioned, "
                "committed, reserved, spent, available, shortfall, frame, repaid, closed) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (grant_id, region, year) "
                "DO UPDATE SET allocated = excluded.allocated, requisitioned = excluded.requisitioned, "
                "committed = excluded.committed, reserved = excluded.reserved, "
                "available = excluded.available, shortfall = excluded.shortfall, "
                "frame = excluded.frame, repaid = excluded.repaid, closed = excluded.closed", balance)
        m._many("UPDATE grants_rm_balances SET spent = spent + ? WHERE grant_id = ? AND region = ? "
                "AND year = ?", [(d, g, r, y) for (g, r, y), d in self.spent_delta.items()])
        for d in decisions:
            m._run("DELETE FROM grants_rm_commitments WHERE grant_id = ? AND decision = ?",
                   (d.grant_id, d.decision_id))
        m._many("INSERT INTO grants_rm_commitments (grant_id, decision, year, region, area, activity, "
                "purpose, amount, spent, remaining, status, decided_by, decided_on) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(d.grant_id, d.decision_id, y, d.region, d.area, d.activity, d.purpose,
                  d.committed_for(y).ore, d.spent_for(y).ore, d.remaining_for(y).ore, d.status,
                  d.decided_by, d.decided_on.isoformat()) for d in decisions for y in d.years])


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
               position: int | None, as_of: datetime.datetime | None, on: datetime.date) -> dict:
    """The same audit as folding the whole prefix (``projections.audit.audit``), fast.

    The digest starts from the nearest checkpoint and hashes only the events after it;
    the fold replays, up to the cut, only the aggregates a year's audit needs: the
    grant, the year's region-years and the decisions that ever had money in the year.
    """
    models.catch_up(app)
    head = models.position()
    cut = head if position is None else min(position, head)
    start, value = models.checkpoint_before(position=cut, as_of=as_of)
    digest = Digest()
    digest.value = value
    reached, last_stamp = start, None
    limit = as_of.astimezone(datetime.timezone.utc) if as_of is not None else None
    while reached < cut:
        notifications = app.recorder.select_notifications(start=reached + 1, limit=2000, stop=cut)
        if not notifications:
            break
        for n in notifications:
            stamp = datetime.datetime.fromisoformat(stamp_of(n.state, n.id))
            if limit is not None and stamp > limit:
                cut = reached  # the first event recorded after the moment ends the replay
                break
            digest.add_raw(raw_record(n.topic, n.originator_id, n.originator_version, n.state))
            reached, last_stamp = n.id, stamp
    view = fold(models.events_of(app, models.year_aggregate_ids(grant_id, year, region), reached),
                keep_entries=True)
    view.position = reached
    if last_stamp is None and reached:
        last_stamp = datetime.datetime.fromisoformat(
            stamp_of(app.recorder.select_notifications(start=reached, limit=1)[0].state, reached))
    return audit(view, digest.value, grant_id, year, region, as_of, on, last_stamp)
