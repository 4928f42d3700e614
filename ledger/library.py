"""Everything the ledger knows of the event library's internals, in one place.

The event library (eventsourcing) stores each event as a row of its own table; the
ledger uses its public API (save, repository, select_notifications) wherever that is
enough. Where it is not, this module is the one adapter, so a new version of the library
is checked here and nowhere else:

- the event table's name and position column in each store (:data:`SQLITE_EVENTS`,
  :data:`POSTGRES_EVENTS`, :func:`events_table`), read by ``stores.py`` to tell a ledger,
  by ``commands/db.py`` to guard it, and here to read stored rows;
- stored rows read straight from the table (:func:`stored_rows`, :func:`aggregate_rows`):
  the digest and the read models need the stored bytes, and only the events a read model
  applies are decoded; a stored event's recording time read from its bytes
  (:func:`stamp_of`, the layout of the library's JSON transcoder);
- writing many events at once, all or nothing (:func:`load_into_empty_store`): what
  `grants import` stores a history with. ``app.save`` writes one command's few events in
  one transaction. A whole history is too big for that (on PostgreSQL the library's
  pipelined insert of hundreds of thousands of events in one call never returns), so it
  holds one transaction open while the caller writes batch after batch through the
  library's own recorder methods (the very statements ``app.save`` runs: same tables,
  topics, stored bytes and notification numbering), and commits only when the caller's
  block ends normally. Any exception, or the process dying, leaves the store as it was.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: reading the table needs no event library
    from eventsourcing.persistence import StoredEvent

from ledger.errors import Corrupt, Malformed, Refused

# --------------------------------------------------------------------------- the event table

SQLITE_EVENTS = "stored_events"       # the event table eventsourcing keeps in an SQLite ledger
POSTGRES_EVENTS = "grants_events"     # ... and in a PostgreSQL schema (named after the application)
POSTGRES_SEQUENCE = f"{POSTGRES_EVENTS}_notification_id_seq"  # what numbers its positions
EVENT_COLUMNS = {"originator_id", "originator_version", "topic", "state"}

# A stored row as read here: (position, aggregate id bytes, version, topic, state bytes)
Row = tuple[int, bytes, int, str, bytes]
# run(statement with ? marks, parameters) -> the rows, on a connection to the ledger's store
Run = Callable[[str, Sequence[Any]], Any]


def events_table(postgres: bool) -> tuple[str, str]:
    """The ledger's event table and its position column, in this kind of store."""
    return (POSTGRES_EVENTS, "notification_id") if postgres else (SQLITE_EVENTS, "rowid")


def _is_hex_id(value: Any) -> bool:
    return type(value) is str and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def stored_rows(run: Run, postgres: bool, start: int, limit: int, stop: int | None = None) -> list[Row]:
    """Stored events from position ``start`` on (up to ``stop``, at most ``limit``), in order."""
    table, key = events_table(postgres)
    sql = f"SELECT {key}, originator_id, originator_version, topic, state FROM {table} WHERE {key} >= ?"
    params: list[Any] = [start]
    if stop is not None:
        sql += f" AND {key} <= ?"
        params.append(stop)
    rows = run(sql + f" ORDER BY {key} LIMIT ?", [*params, limit])
    if rows and isinstance(rows[0], dict):
        rows = [tuple(r.values()) for r in rows]
    if postgres:
        return [(int(p), o.bytes, v, t, bytes(s)) for p, o, v, t, s in rows]
    try:
        return [(p, bytes.fromhex(o), v, t, s) for p, o, v, t, s in rows]
    except (TypeError, ValueError):
        bad = next(p for p, o, *_ in rows if not _is_hex_id(o))
        raise Corrupt(f"the stored event at position {bad} names no valid aggregate; the stored "
                      "history was altered (see grants verify)") from None


def last_position(run: Run, postgres: bool) -> int:
    """The log's last position (0 when it is empty), as the library's recorder tells it."""
    table, key = events_table(postgres)
    rows = run(f"SELECT MAX({key}) FROM {table}", [])
    value = _values(rows[0])[0] if rows else None
    return int(value or 0)


def aggregate_rows(run: Run, postgres: bool, oid: uuid.UUID, after: int = 0, cut: int | None = None,
                   table: str | None = None) -> list[tuple[int, int, str, bytes]]:
    """One aggregate's stored events after version ``after`` (up to position ``cut``), as
    (position, version, topic, state), in version order. ``table``: the event table's
    name as the connection must name it (the recorder's is schema-qualified)."""
    default, key = events_table(postgres)
    table = table or default
    sql = f"SELECT {key}, originator_version, topic, state FROM {table} WHERE originator_id = ? " \
          "AND originator_version > ?"
    params: list[Any] = [oid if postgres else oid.hex, after]
    if cut is not None:
        sql += f" AND {key} <= ?"
        params.append(cut)
    rows = run(sql + " ORDER BY originator_version", params)
    return [(int(p), v, t, bytes(s)) for p, v, t, s in (_values(r) for r in rows)]


def aggregates_rows_after(run: Run, postgres: bool, after: dict[uuid.UUID, int], cut: int, table: str | None = None
                    ) -> dict[uuid.UUID, list[tuple[int, int, str, bytes]]]:
    """Many aggregates' stored events, each after its own version (``after``), up to position
    ``cut``, as ``aggregate_rows`` gives them one by one: in few queries (200 aggregates each)."""
    default, key = events_table(postgres)
    table = table or default
    found: dict[uuid.UUID, list[tuple[int, int, str, bytes]]] = {oid: [] for oid in after}
    by_key = {(oid if postgres else oid.hex): oid for oid in after}
    ids = list(after)
    for start in range(0, len(ids), 200):
        part = ids[start:start + 200]
        where = " OR ".join("(originator_id = ? AND originator_version > ?)" for _ in part)
        params: list[Any] = [v for oid in part for v in ((oid if postgres else oid.hex), after[oid])]
        rows = run(f"SELECT originator_id, {key}, originator_version, topic, state FROM {table} "
                   f"WHERE ({where}) AND {key} <= ? ORDER BY originator_id, originator_version", [*params, cut])
        for o, p, v, t, s in (_values(r) for r in rows):
            found[by_key[o]].append((int(p), v, t, bytes(s)))
    return found


def aggregates_rows(run: Run, postgres: bool, oids: Sequence[uuid.UUID], cut: int | None = None
                    ) -> list[Row]:
    """The stored events of many aggregates (up to position ``cut``), as stored rows
    (position, aggregate id bytes, version, topic, state), in recording order; one query per
    500 aggregates."""
    table, key = events_table(postgres)
    found: list[Row] = []
    for start in range(0, len(oids), 500):
        part = oids[start:start + 500]
        marks = ", ".join("?" for _ in part)
        sql = (f"SELECT {key}, originator_id, originator_version, topic, state FROM {table} "
               f"WHERE originator_id IN ({marks})")
        params: list[Any] = [i if postgres else i.hex for i in part]
        if cut is not None:
            sql += f" AND {key} <= ?"
            params.append(cut)
        for p, o, v, t, s in (_values(r) for r in run(sql, params)):
            found.append((int(p), o.bytes if postgres else bytes.fromhex(o), v, t, bytes(s)))
    found.sort()
    return found


def existing(run: Run, postgres: bool, ids: Sequence[uuid.UUID], table: str | None = None) -> set[uuid.UUID]:
    """Which of these aggregates have events (one query per 500 ids): many "is this id
    taken?" questions at once, where asking the repository one by one would load each."""
    table = table or events_table(postgres)[0]
    found: set[uuid.UUID] = set()
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        marks = ", ".join("?" for _ in part)
        rows = run(f"SELECT originator_id FROM {table} WHERE originator_version = 1 AND originator_id IN ({marks})",
                   [i if postgres else i.hex for i in part])
        for row in rows:
            value = _values(row)[0]
            found.add(value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value))
    return found


def _values(row: Any) -> tuple:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


def recorder_table(recorder: Any) -> str:
    """The event table as the recorder's own connection names it (on PostgreSQL the library
    qualifies it with the schema rather than set a search path)."""
    schema = getattr(recorder.datastore, "schema", None)
    name = recorder.events_table_name
    return f'"{schema}"."{name}"' if schema else name


def run_on_recorder(recorder: Any) -> Run:
    """A ``run`` on the application's own recorder (one read-only transaction per statement);
    its event table is ``recorder.events_table_name``."""
    postgres = "postgres" in type(recorder).__module__

    def run(statement: str, params: Sequence[Any]) -> Any:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement.replace("?", "%s") if postgres else statement, tuple(params))
            return cursor.fetchall()
    return run


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


def save_in_order(app: Any, events: Sequence[Any]) -> None:
    """Store events in the order given, in one atomic write (``app.save`` takes aggregates
    and stores each one's events together; a batch of bookings wants each booking's event
    followed by its voucher's, as N `spend` commands would have stored them)."""
    from eventsourcing.application import ProcessingEvent

    processing = ProcessingEvent()
    processing.events.extend(events)
    app._notify(app._record(processing))


def is_sql(recorder: Any) -> bool:
    """Whether the recorder keeps its events in an SQL table (SQLite, PostgreSQL), not in memory."""
    return hasattr(recorder, "datastore")


def is_postgres(app: Any) -> bool:
    """Whether the application's store is PostgreSQL (else SQLite)."""
    return "postgres" in type(app.recorder).__module__


def imports_of(app: Any) -> list[dict[str, Any]]:
    """Who imported a history into this PostgreSQL ledger, when, and what (the table
    ``grants db init`` creates; none elsewhere), oldest first."""
    recorder = app.recorder
    if "postgres" not in type(recorder).__module__:
        return []
    from psycopg.sql import SQL, Identifier

    with recorder.datastore.transaction(commit=False) as curs:
        imports = Identifier(recorder.datastore.schema, "grants_imports")
        curs.execute(SQL("SELECT to_regclass(%s) AS found"), [imports.as_string(curs)])
        if curs.fetchone()["found"] is None:
            return []
        curs.execute(SQL("SELECT role, at, file_sha256, digest, events, first_position, last_position "
                         "FROM {} ORDER BY id").format(imports))
        return [dict(row) for row in curs.fetchall()]


# --------------------------------------------------------------------------- loading a history

IDLE_LIMIT = 600  # seconds a PostgreSQL load may spend between two statements of its transaction

# write(stored events, the positions they must get): stores one batch inside the transaction
Write = Callable[[Sequence["StoredEvent"], Sequence[int]], None]


def _runs(positions: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Index ranges [start, end) of consecutive positions."""
    start = 0
    for i in range(1, len(positions) + 1):
        if i == len(positions) or positions[i] != positions[i - 1] + 1:
            yield start, i
            start = i


@contextmanager
def load_into_empty_store(app: Any, where: str, imported: dict[str, Any] | None = None) -> Iterator[Write]:
    """One transaction on the application's store, which must hold no events.

    Yields ``write(stored, positions)``, which inserts a batch of stored events (from
    ``app.mapper.to_stored_event``) with the recorder's own insert, so that each gets the
    given position. SQLite numbers events 1, 2, 3... without gaps, so there the positions
    must run on from 1; PostgreSQL's sequence is set at the first position and after each
    gap (its own numbering leaves gaps where a write was rolled back), so positions stay
    those of the ledger the events came from. Emptiness is checked inside the transaction:
    on PostgreSQL under the table lock the library's inserts take, held to the commit, so
    no other writer can add an event in between; on SQLite a writer that committed after
    the check makes the first insert fail (the store is busy) rather than write into a
    ledger that is no longer empty.

    On a PostgreSQL ledger set up by ``grants db init``, the load first registers itself in
    ``grants_imports`` (the server fills in the role it authenticated and the time; only
    there may events keep the file's own recorders), and before the commit completes that
    row with the positions loaded and, from ``imported``, the file's SHA-256 and the
    history's digest (the caller fills ``imported["digest"]`` before its block ends).
    """
    from eventsourcing.postgres import PostgresApplicationRecorder
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    recorder = app.recorder
    refused = Refused(f"the ledger at {where} is not empty; import needs an empty ledger")

    def check(positions: Sequence[int], got: Sequence[int] | None) -> None:
        if list(got or ()) != list(positions):  # never expected: the store numbered otherwise
            raise Malformed(f"the store numbered the events from position {positions[0]} otherwise; "
                            "nothing was imported")

    if isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=True) as curs:
            if recorder._max_notification_id(curs):
                raise refused

            def write(stored: Sequence[StoredEvent], positions: Sequence[int]) -> None:
                check(positions, recorder._insert_events(curs, stored))

            yield write
    elif isinstance(recorder, PostgresApplicationRecorder):
        from psycopg.sql import SQL, Identifier

        table = Identifier(recorder.datastore.schema, recorder.events_table_name)
        with recorder.datastore.transaction(commit=True) as curs:
            # The library ends a session idle in a transaction for 5 s (so that no stuck client
            # holds its table lock); a load is idle while it checks the next batch, and while it
            # reconciles every year before the commit, so it allows itself longer.
            curs.execute(SQL(f"SET LOCAL idle_in_transaction_session_timeout = '{IDLE_LIMIT}s'"))
            recorder._lock_table(curs)
            curs.execute(recorder.max_notification_id_statement)
            if curs.fetchone()["max"] is not None:
                raise refused
            imports = Identifier(recorder.datastore.schema, "grants_imports")
            curs.execute(SQL("SELECT to_regclass(%s) AS found"), [imports.as_string(curs)])
            registered = None
            if curs.fetchone()["found"] is not None:
                curs.execute(SQL("INSERT INTO {} (file_sha256) VALUES (%s) RETURNING id").format(imports),
                             [(imported or {}).get("file_sha256")])
                registered = curs.fetchone()["id"]
            loaded: list[int] = []  # the first and the last position loaded
            restart = SQL("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s, false)")
            table_name = table.as_string(curs)
            following: int | None = None  # the number the sequence gives next

            def write(stored: Sequence[StoredEvent], positions: Sequence[int]) -> None:
                nonlocal following
                for start, end in _runs(positions):
                    if positions[start] != following:
                        curs.execute(restart, (table_name, positions[start]))
                    run = stored[start:end]
                    recorder._insert_stored_events(curs, run)
                    check(positions[start:end], recorder._fetch_ids_after_insert_events(curs, run))
                    following = positions[end - 1] + 1
                if positions:
                    loaded[:] = [loaded[0] if loaded else positions[0], positions[-1]]

            yield write
            if registered is not None:
                curs.execute(SQL("UPDATE {} SET digest = %s, first_position = %s, last_position = %s, "
                                 "events = (SELECT count(*) FROM {}) WHERE id = %s").format(imports, table),
                             [(imported or {}).get("digest"), *(loaded or [None, None]), registered])
    else:
        raise Malformed(f"cannot import into a store of type {type(recorder).__name__}")


@contextmanager
def new_sqlite_ledger(path: str) -> Iterator[Any]:
    """A ledger for a load into an SQLite file that does not exist yet, published only whole.

    The events go into a file beside ``path``, which is linked to ``path`` once the block
    ends normally (an atomic step that fails if ``path`` appeared meanwhile: then the load
    is refused, and nothing is overwritten). On any error, or if the process dies, no file
    is left at ``path``.
    """
    import os
    import sqlite3

    from ledger.application import open_ledger

    temporary = f"{path}.importing-{os.getpid()}"
    files = [temporary + suffix for suffix in ("", "-wal", "-shm", "-journal")]
    try:
        app = open_ledger(temporary)
        try:
            yield app
        finally:
            app.close()
        connection = sqlite3.connect(temporary)  # the last connection: moves the log into the file
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise Refused(f"a ledger appeared at {path} during the import; nothing was imported") from None
        except OSError:  # a file system without hard links
            if os.path.exists(path):
                raise Refused(f"a ledger appeared at {path} during the import; nothing was imported") from None
            os.rename(temporary, path)
    finally:
        for name in files:
            try:
                os.remove(name)
            except OSError:
                pass
