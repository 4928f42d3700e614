"""Snapshots: an aggregate's state kept beside its events, so that loading it replays only
the events recorded after it.

A snapshot is derived data, never a fact: the events stay the history, and a snapshot
that does not fit them is ignored. The table ``grants_snapshots`` (a stable name of the
ledger's own, not the event library's snapshot store) holds one row per aggregate, the
latest kept:

- ``originator_id`` (hex), ``originator_version``: the aggregate and the version the
  state is of;
- ``kind``: Grant, RegionYear or Decision (the Voucher index has one event: never kept);
- ``event_sha256``: the hash of the stored event at that version (its topic and stored
  bytes), which binds the state to one event of the aggregate's own stream;
- ``state``: the aggregate's state as the typed, canonical JSON of :mod:`ledger.states`
  (never pickled; decoded field by field and checked like the read models' kept states);
- ``seal``: the hash of all of the above.

Loading (:meth:`Snapshots.get` then ``StoredLedger._get``) uses a snapshot only when its
seal holds, its state decodes as its kind, it is of the aggregate asked for and of the
version it names, that version's event exists in the stream with the hash recorded and
with the state's last-modified time, and every later event applies to it; otherwise the
aggregate is replayed from its first event as before (so a bad snapshot costs time, never
a wrong answer from what the checks can see). A snapshot forged consistently, its seal
recomputed, by someone who may write the table is caught by ``grants verify``, which
replays every kept aggregate to its snapshot's version and compares the states
(:func:`check_all`); ``grants rebuild`` clears the table. A ledger without the table (one
recorded before snapshots) loads by replay; the table is made when the first snapshot is
kept.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from ledger.decision import Decision
from ledger.grant import Grant
from ledger.region_year import RegionYear
from ledger.library import recorder_table, run_on_recorder

TABLE = "grants_snapshots"
KINDS: dict[type, str] = {Grant: "Grant", RegionYear: "RegionYear", Decision: "Decision"}
CLASSES: dict[str, type] = {name: cls for cls, name in KINDS.items()}
COLUMNS = "originator_id, originator_version, kind, event_sha256, state, seal"


def event_hash(topic: str, state: bytes) -> str:
    """The hash a snapshot keeps of the stored event at its version."""
    h = hashlib.sha256(topic.encode("utf-8", "surrogatepass"))
    h.update(b"\x00")
    h.update(bytes(state))
    return h.hexdigest()


def seal_of(aggregate_id: UUID, version: int, kind: str, event_sha256: str, state: bytes) -> str:
    """The hash of a snapshot row's cells."""
    h = hashlib.sha256(f"{aggregate_id.hex}/{version}/{kind}/{event_sha256}/".encode("utf-8", "surrogatepass"))
    h.update(bytes(state))
    return h.hexdigest()


def create_statement(postgres: bool, table: str) -> str:
    blob = "BYTEA" if postgres else "BLOB"
    return (f"CREATE TABLE IF NOT EXISTS {table} (originator_id TEXT PRIMARY KEY, "
            "originator_version BIGINT NOT NULL, kind TEXT NOT NULL, event_sha256 TEXT NOT NULL, "
            f"state {blob} NOT NULL, seal TEXT NOT NULL)")


class Snapshots:
    """The snapshot table of one application's store (SQLite or PostgreSQL)."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.postgres = "postgres" in type(recorder).__module__
        schema = getattr(recorder.datastore, "schema", None)
        self.table = f'"{schema}".{TABLE}' if schema else TABLE
        self.schema = schema
        self.run = run_on_recorder(recorder)
        self.events = recorder_table(recorder)
        self._exists: bool | None = None
        self._ask_after = 0.0
        self.broken = False  # a write failed (a role that may not create the table): keep none

    def exists(self) -> bool:
        """Whether the store has the table (a store without it is asked again after a while:
        another process may make it)."""
        if not self._exists and time.monotonic() >= self._ask_after:
            self._ask_after = time.monotonic() + 5.0
            if self.postgres:
                found = self.run("SELECT to_regclass(?) IS NOT NULL AS found", [self.table])
                row = found[0]
                self._exists = bool(row["found"] if isinstance(row, dict) else row[0])
            else:
                self._exists = bool(self.run("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                             [TABLE]))
        return self._exists

    def get(self, aggregate_id: UUID) -> tuple[int, str, str, bytes, str] | None:
        """The snapshot row of an aggregate: (version, kind, event hash, state, seal), or None."""
        if not self.exists():
            return None
        rows = self.run(f"SELECT originator_version, kind, event_sha256, state, seal FROM {self.table} "
                        "WHERE originator_id = ?", [aggregate_id.hex])
        if not rows:
            return None
        version, kind, sha, state, seal = _values(rows[0])
        return version, kind, sha, bytes(state), seal

    def put(self, rows: Sequence[tuple[UUID, int, str, str, bytes]]) -> None:
        """Keep snapshots (id, version, kind, event hash, state), in one transaction; a row never
        replaces a later version's."""
        mark = "%s" if self.postgres else "?"
        target = f"{self.table} AS s" if self.postgres else self.table
        older = "s" if self.postgres else TABLE
        upsert = (f"INSERT INTO {target} ({COLUMNS}) VALUES ({', '.join([mark] * 6)}) "
                  "ON CONFLICT (originator_id) DO UPDATE SET originator_version = excluded.originator_version, "
                  "kind = excluded.kind, event_sha256 = excluded.event_sha256, state = excluded.state, "
                  f"seal = excluded.seal WHERE excluded.originator_version > {older}.originator_version")
        create = not self.exists()
        with self.recorder.datastore.transaction(commit=True) as cursor:
            if create:
                cursor.execute(create_statement(self.postgres, self.table))
            for aggregate_id, version, kind, sha, state in rows:
                cursor.execute(upsert, (aggregate_id.hex, version, kind, sha, state,
                                        seal_of(aggregate_id, version, kind, sha, state)))
        self._exists = True

    def all(self) -> Iterator[tuple[UUID | None, str, int, str, str, bytes, str]]:
        """Every snapshot row: (id or None when the text is not an id, id text, version, kind,
        event hash, state, seal)."""
        if not self.exists():
            return
        for row in self.run(f"SELECT {COLUMNS} FROM {self.table} ORDER BY originator_id", []):
            text, version, kind, sha, state, seal = _values(row)
            try:
                aggregate_id: UUID | None = UUID(hex=text)
            except (TypeError, ValueError):
                aggregate_id = None
            yield aggregate_id, text, version, kind, sha, bytes(state), seal

    def clear(self) -> None:
        """Remove every snapshot (they are kept again as aggregates are saved)."""
        if self.exists():
            with self.recorder.datastore.transaction(commit=True) as cursor:
                cursor.execute(f"DELETE FROM {self.table}")


def _values(row: Any) -> tuple:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)
