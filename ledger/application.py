"""The application service: one method per recording command.

Each method loads the aggregates it needs, asks them to act (they check the rules),
and saves every touched aggregate in one atomic write. A write that collides with a
concurrent writer is retried from a fresh load a few times, then reported as
:class:`ledger.errors.Conflict`. Nothing here knows about the command line.
"""

from __future__ import annotations

import datetime
import functools
import os
import secrets
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    JSONTranscoder, Mapper, PersistenceError, RecordConflictError, StoredEvent, Transcoding,
)

from ledger.apportion import apportion
from ledger.budget import RegionYear, region_year_uuid
from ledger.decision import Decision, Voucher, decision_uuid, voucher_uuid
from ledger.errors import Conflict, Corrupt, Duplicate, LedgerError, Malformed, NotFound
from ledger.events import CATALOGUE, advance, fault

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks, so a created ledger is never removed again
    fcntl = None  # type: ignore[assignment]
from ledger.grant import Grant, grant_uuid
from ledger.values import Amount

A = TypeVar("A")


class DateAsISO(Transcoding):
    """Stores a :class:`datetime.date` as its ISO string."""

    type = datetime.date
    name = "date_iso"

    def encode(self, obj: datetime.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> datetime.date:
        return datetime.date.fromisoformat(data)


class CheckedMapper(Mapper):
    """Turns stored rows into the ledger's own events only (see :mod:`ledger.events`).

    The library's mapper would import whatever module a stored topic names and accept
    whatever fields the stored JSON holds; this one looks the topic up in the ledger's
    catalogue and checks every field's name and type first. A row that fails is
    :class:`Corrupt` (the caller names its position).
    """

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = CATALOGUE.get(stored_event.topic)
        if cls is None:
            raise Corrupt(f"its topic {str(stored_event.topic)[:60]!r} is not one of the ledger's events")
        try:
            state = self.transcoder.decode(stored_event.state)
        except Exception as e:  # not JSON, not UTF-8, an unknown tag, nesting beyond reason
            raise Corrupt(f"its stored state is not readable ({type(e).__name__})") from None
        if type(state) is not dict:
            raise Corrupt("its stored state is not an object")
        wrong = fault(cls, state)
        if wrong:
            raise Corrupt(f"its fields do not fit {stored_event.topic}: {wrong}")
        if type(stored_event.originator_version) is not int or stored_event.originator_version < 1:
            raise Corrupt("its version is not a positive whole number")
        originator_id = stored_event.originator_id
        if not isinstance(originator_id, UUID):
            try:
                originator_id = UUID(str(originator_id))
            except ValueError:
                raise Corrupt("it names no valid aggregate") from None
        state["originator_id"] = originator_id
        state["originator_version"] = stored_event.originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event


def store_env(target: str) -> dict[str, str]:
    """The eventsourcing environment for a store: an SQLite file path or a postgresql:// URL.

    A URL may name a schema (which must exist): ``postgresql://u@h:5432/db?schema=grants``.
    """
    from urllib.parse import parse_qs, unquote, urlsplit

    if target.startswith(("postgresql://", "postgres://")):
        url = urlsplit(target)
        dbname = url.path.lstrip("/")
        if not dbname:
            raise Malformed(f"--db {target!r} names no database (postgresql://user@host:port/dbname)")
        try:
            port = url.port or 5432
        except ValueError:
            raise Malformed(f"--db {target!r} has an invalid port") from None
        schema = parse_qs(url.query).get("schema", [""])[0]
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(port),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "2",
        }
    if "://" in target:
        raise Malformed(f"--db {target!r}: give an SQLite file path or a postgresql:// URL")
    if not target.strip():
        raise Malformed("--db is empty: give an SQLite file path or a postgresql:// URL")
    if ":memory:" in target or "mode=memory" in target:
        raise Malformed(f"--db {target!r} is not a file path (an in-memory database keeps nothing)")
    if target.lower().startswith("file:"):
        target = os.path.join(".", target)  # a file named file:…, not an SQLite URI
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": target}


CONTENTION = ("concurrently updated", "deadlock", "database is locked", "could not serialize",
              "lock timeout", "canceling statement due to lock")


def is_contention(error: BaseException) -> bool:
    """A store error caused by another writer, worth retrying (not a broken store)."""
    return isinstance(error, RecordConflictError) or (
        isinstance(error, PersistenceError) and any(c in str(error).lower() for c in CONTENTION)
    )


def command(method: Callable[..., A]) -> Callable[..., A]:
    """Run a command; on a concurrent-write conflict, reload and retry, then give up."""

    @functools.wraps(method)
    def wrapper(self: GrantLedger, *args: Any, **kwargs: Any) -> A:
        for attempt in range(self.max_attempts):
            try:
                return method(self, *args, **kwargs)
            except PersistenceError as e:
                if not is_contention(e):
                    raise
                time.sleep(0.05 * attempt)
        raise Conflict(
            f"another writer kept changing the same data; gave up after {self.max_attempts} "
            "attempts and recorded nothing"
        )

    return wrapper


def open_ledger(target: str, must_exist: bool = False, attempts: int = 4) -> GrantLedger:
    """Open the ledger at an SQLite path or PostgreSQL URL.

    Nothing is written to a store before it is known to be a ledger (see
    :func:`claim_sqlite` and :func:`check_postgres`): an existing file or schema that
    is not one is refused (Malformed) and left exactly as it was. With ``must_exist``,
    a store that holds no ledger yet is an error rather than a new, empty ledger
    (queries never create one). Opening races with another process that is creating
    the tables are retried.
    """
    env = store_env(target)
    claim = None
    if env["PERSISTENCE_MODULE"].endswith("sqlite"):
        claim = claim_sqlite(env["SQLITE_DBNAME"], target, must_exist)
    else:
        check_postgres(env, must_exist)
    attempt = 0
    try:
        while True:
            try:
                ledger = GrantLedger(env=env)
                ledger._claim = claim
                return ledger
            except PersistenceError as e:
                attempt += 1
                if not is_contention(e) or attempt >= attempts:
                    raise
                time.sleep(0.1 * attempt)
    except BaseException:
        if claim is not None:
            claim.release()
        raise


# --------------------------------------------------------------------------- is it a ledger?

SQLITE_EVENTS = "stored_events"       # the event table eventsourcing keeps in an SQLite ledger
POSTGRES_EVENTS = "grants_events"     # ... and in a PostgreSQL schema (named after the application)
EVENT_COLUMNS = {"originator_id", "originator_version", "topic", "state"}
TOPIC_PREFIX = "grants:"              # every event topic the ledger records starts with this


def sqlite_fault(path: str, fd: int) -> str | None:
    """Why the existing file at ``path`` is not a ledger, or None when it is one.

    A ledger is an SQLite database with the ledger's event table (its columns), whose
    events, if any, include the ledger's own. The file is only read (its header through
    ``fd``, a descriptor the caller holds on it): without a side
    file (``-wal``, ``-journal``) it is opened immutable, which writes nothing at all.
    """
    # The header is read through the caller's descriptor (``fd``, which it keeps): opening
    # and closing another would drop every POSIX lock this process holds on the file,
    # SQLite's own among them.
    try:
        head = os.pread(fd, 100, 0)
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if not head:
        return "is an empty file"
    if not head.startswith(b"SQLite format 3\x00"):
        return "is not an SQLite database"
    from urllib.parse import quote

    uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro"
    quiet = not any(os.path.exists(path + side) for side in ("-wal", "-journal"))
    for options in (["&immutable=1"] if quiet else []) + [""]:
        try:
            conn = sqlite3.connect(uri + "".join(options), uri=True, timeout=5)
        except sqlite3.Error as e:
            problem = str(e)
            continue
        try:
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({SQLITE_EVENTS})")}
            if not columns:
                return f"is an SQLite database without the ledger's event table ({SQLITE_EVENTS})"
            if not EVENT_COLUMNS <= columns:
                return f"has a table {SQLITE_EVENTS} that is not the ledger's"
            any_event, ours = conn.execute(
                f"SELECT EXISTS (SELECT 1 FROM {SQLITE_EVENTS}), "
                f"EXISTS (SELECT 1 FROM {SQLITE_EVENTS} WHERE substr(topic, 1, ?) = ?)",
                [len(TOPIC_PREFIX), TOPIC_PREFIX]).fetchone()
            if any_event and not ours:
                return "holds the events of another application"
            return None
        except sqlite3.DatabaseError as e:
            problem = str(e)  # a file changing under an immutable read is read again
        finally:
            conn.close()
    return f"is not a readable SQLite database ({problem})"


class SQLiteClaim:
    """This process's use of an SQLite ledger file: a shared advisory lock held until the
    ledger is closed, and whether this process created the file.

    A command that created the file and then fails leaves no file behind: on release the
    creator removes it, but only if no other process holds the file (each holds the
    shared lock while it has the ledger open) and it holds no event. A process that
    opened the file just before it was removed sees that once it gets its lock, and
    starts again. Without advisory locks (not POSIX), the file is kept.

    The lock is a ``flock`` on a descriptor of its own, one per file and process, which is
    closed only when the creator removes the file: closing any descriptor of a file drops
    every POSIX lock the process holds on it, SQLite's own among them, so a descriptor of a
    file in use is never closed while the process may have other connections to it (a
    test, a server). The shared lock thus lasts as long as the process.
    """

    def __init__(self, path: str, fd: int, created: bool) -> None:
        self.path = path
        self.fd: int | None = fd
        self.created = created
        self.remove_on_release = False

    def release(self) -> None:
        if self.fd is None:
            return
        key = _key(self.fd)
        users = _USERS.get(key, 1)
        _USERS[key] = users - 1
        if users == 1 and self.created and self.remove_on_release and self._remove_if_unused_and_empty():
            _HELD.pop(key, None)
            _USERS.pop(key, None)
            os.close(self.fd)
        self.fd = None

    def _remove_if_unused_and_empty(self) -> bool:
        """Remove the file this process created, if no one else uses it and it holds no event."""
        if fcntl is None or not _same_file(self.fd, self.path):
            return False
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # another process has the ledger open: it is theirs too now
        try:
            try:
                conn = sqlite3.connect(self.path, timeout=5)
                try:
                    recorded = conn.execute(f"SELECT EXISTS (SELECT 1 FROM {SQLITE_EVENTS})").fetchone()[0]
                finally:
                    conn.close()
            except sqlite3.Error:
                return False
            if recorded:
                return False
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_SH)
        # Side files first: while the ledger itself is there, no other process can
        # create a new ledger (and side files) at this path.
        for name in (self.path + "-wal", self.path + "-shm", self.path + "-journal", self.path):
            try:
                os.remove(name)
            except FileNotFoundError:
                pass
        return True


# (device, inode) -> this process's descriptor holding the shared lock on a ledger file,
# and how many of this process's open ledgers use it
_HELD: dict[tuple[int, int], int] = {}
_USERS: dict[tuple[int, int], int] = {}


def _key(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _same_file(fd: int, path: str) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def claim_sqlite(path: str, target: str, must_exist: bool) -> SQLiteClaim:
    """Make sure ``path`` is a ledger (creating a new, empty one where nothing is) and
    hold it for this process; an existing file that is not a ledger is Malformed.

    A new ledger appears at its path whole: it is made under a private name in the same
    folder and linked into place, so another process never finds a half-made file there,
    and of two processes creating the same ledger at once, one makes it and both use it.
    """
    for _ in range(50):
        created = False
        if not os.path.exists(path):
            if os.path.islink(path):
                raise Malformed(f"--db {target}: is a link to nothing")
            if must_exist:
                raise Malformed(f"no ledger at {target} (record something first, or give --db)")
            created = _create_sqlite(path, target)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            continue  # removed again by a command that created it and failed: start again
        if stat.S_ISDIR(info.st_mode):
            raise Malformed(f"--db {target} is a folder, not a ledger file")
        if not stat.S_ISREG(info.st_mode):
            raise Malformed(f"--db {target} is not a regular file, so not a ledger")
        held = _HELD.get((info.st_dev, info.st_ino))
        if held is not None and _same_file(held, path):
            _USERS[(info.st_dev, info.st_ino)] = _USERS.get((info.st_dev, info.st_ino), 0) + 1
            return SQLiteClaim(path, held, created)  # this process holds it already
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise Malformed(f"--db {target} cannot be opened ({e.strerror})") from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_SH)
            if not _same_file(fd, path):
                os.close(fd)
                continue
            fault = None if created else sqlite_fault(path, fd)
        except BaseException:
            os.close(fd)
            raise
        if fault:
            os.close(fd)
            raise Malformed(f"--db {target} is not a grants ledger: it {fault}; left as it was")
        _HELD[_key(fd)] = fd
        _USERS[_key(fd)] = _USERS.get(_key(fd), 0) + 1
        return SQLiteClaim(path, fd, created)
    raise Conflict(f"the ledger at {target} kept being created and removed by other commands; "
                   "gave up and recorded nothing")


def _create_sqlite(path: str, target: str) -> bool:
    """Create an empty ledger at ``path`` unless something appears there first; True if
    this process made it."""
    folder, name = os.path.split(os.path.abspath(path))
    private = os.path.join(folder, f".{name}.{os.getpid()}-{secrets.token_hex(4)}.new")
    try:
        try:
            GrantLedger(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                             "SQLITE_DBNAME": private}).close()
        except (PersistenceError, OSError) as e:
            reason = getattr(e, "strerror", None) or str(e).strip().splitlines()[0]
            raise Malformed(f"cannot create a ledger at {target}: {reason}") from None
        try:
            os.link(private, path)
        except FileExistsError:
            return False
        except OSError:  # no hard links on this file system: copy, never over an existing file
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as out, open(private, "rb") as made:
                out.write(made.read())
                out.flush()
                os.fsync(out.fileno())
        return True
    finally:
        for side in ("-wal", "-shm", "-journal", ""):
            try:
                os.remove(private + side)
            except FileNotFoundError:
                pass


def check_postgres(env: dict[str, str], must_exist: bool) -> None:
    """Connect once, at once, and make sure the schema is a ledger's, or empty (a new one).

    A wrong host, port, database, user or password is Malformed with the server's own
    reason (the connection pool would retry for its whole timeout and hide it). A
    schema with tables but not the ledger's event table is refused: the ledger never
    creates its tables beside someone else's.
    """
    import psycopg

    schema = env.get("POSTGRES_SCHEMA", "").strip() or "public"
    where = (f"postgresql://{env['POSTGRES_USER']}@{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/"
             f"{env['POSTGRES_DBNAME']}" + (f"?schema={schema}" if env.get("POSTGRES_SCHEMA") else ""))
    try:
        conn = psycopg.connect(
            host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT") or 5), autocommit=True)
    except psycopg.Error as e:
        raise Malformed(f"cannot use the store {where}: {_server_reason(e)}") from None
    except (ValueError, UnicodeError) as e:
        raise Malformed(f"cannot use the store {where}: {e}") from None
    try:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone() is None:
            raise Malformed(f"{where}: the schema {schema!r} does not exist (create it first)")
        tables = {name for (name,) in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", [schema])}
        if POSTGRES_EVENTS in tables:
            columns = {name for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s", [schema, POSTGRES_EVENTS])}
            if not EVENT_COLUMNS <= columns:
                raise Malformed(f"{where} is not a grants ledger: its table {POSTGRES_EVENTS} is not the "
                                "ledger's; left as it was")
        elif tables:
            raise Malformed(
                f"{where} is not a grants ledger: the schema {schema!r} holds {len(tables)} other "
                f"table(s) and no {POSTGRES_EVENTS}; left as it was (give ?schema= of an empty schema)")
        elif must_exist:
            raise Malformed(f"no ledger at {where} (record something first, or give --db)")
    except psycopg.Error as e:
        raise Malformed(f"cannot use the store {where}: {_server_reason(e)}") from None
    finally:
        conn.close()


def _server_reason(error: BaseException) -> str:
    """The server's (or the network's) own reason, on one line."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    if "failed: " in line:
        line = line.rsplit("failed: ", 1)[1]
    return " ".join(line.split())


def _strictly(aggregate: Any, events: Iterator[Any]) -> Any:
    """Replay an aggregate's events, each its next version (see :func:`ledger.events.advance`)."""
    for event in events:
        aggregate = advance(aggregate, event, 0)
    return aggregate


class GrantLedger(Application):
    """The grant ledger: records grant events, enforcing every rule through its aggregates."""

    name = "grants"
    max_attempts = 4
    _claim: SQLiteClaim | None = None

    def close(self) -> None:
        """Close the store, then let go of the ledger file (see :class:`SQLiteClaim`)."""
        try:
            super().close()
        finally:
            claim, self._claim = self._claim, None
            if claim is not None:
                claim.release()

    def abandon(self) -> None:
        """The command using this ledger failed: if it created the SQLite file and nothing
        was recorded, the file is removed again when the ledger is closed."""
        if self._claim is not None:
            self._claim.remove_on_release = True

    def construct_mapper(self) -> Mapper:
        return CheckedMapper(transcoder=self.construct_transcoder())

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ------------------------------------------------------------------ loading

    def _get(self, aggregate_id: UUID) -> Any:
        """An aggregate from its stored events; a history that does not replay is Corrupt."""
        try:
            return self.repository.get(aggregate_id, projector_func=_strictly)
        except (AggregateNotFoundError, LedgerError):
            raise
        except Exception:
            raise self._fault(aggregate_id) from None

    def _fault(self, aggregate_id: UUID) -> Corrupt:
        """Why an aggregate's stored events do not replay, naming the position that fails."""
        table = self.recorder.events_table_name
        postgres = "postgres" in type(self.recorder).__module__
        mark = "%s" if postgres else "?"
        key = aggregate_id if postgres else aggregate_id.hex
        position_column = "notification_id" if postgres else "rowid"
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT {position_column}, originator_version, topic, state FROM {table} "
                           f"WHERE originator_id = {mark} ORDER BY originator_version", (key,))
            rows = [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in cursor.fetchall()]
        aggregate = None
        for position, version, topic, state in rows:
            stored = StoredEvent(originator_id=aggregate_id, originator_version=version, topic=topic,
                                 state=bytes(state))
            try:
                aggregate = advance(aggregate, self.decode(stored, position), position)
            except Corrupt as e:
                return e
        return Corrupt(f"the stored events of aggregate {aggregate_id} do not replay; the stored "
                       "history was altered (see grants verify)")

    def _load(self, aggregate_id: UUID, missing: str) -> Any:
        try:
            return self._get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(missing) from None

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self._get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def grant(self, grant_id: str) -> Grant:
        return self._load(grant_uuid(grant_id), f"unknown grant {grant_id!r} (define it with 'grants grant define')")

    def region_year(self, grant_id: str, region: str, year: int, recorded_by: str = "") -> RegionYear:
        """The region's year, new (not yet saved) when nothing was recorded for it yet."""
        try:
            return self._get(region_year_uuid(grant_id, region, year))
        except AggregateNotFoundError:
            return RegionYear(grant_id=grant_id, region=region, year=year, recorded_by=recorded_by)

    def decision(self, grant_id: str, decision_id: str) -> Decision:
        return self._load(
            decision_uuid(grant_id, decision_id), f"unknown decision {decision_id!r} in {grant_id}"
        )

    def decision_of_voucher(self, grant_id: str, voucher: str) -> Decision:
        index = self._load(voucher_uuid(grant_id, voucher), f"unknown voucher {voucher!r} in {grant_id}")
        return self.decision(grant_id, index.decision_id)

    # ------------------------------------------------------------------ the grant

    @command
    def define_grant(
        self, grant_id: str, name: str, first_year: int, last_year: int,
        purposes: list[list[str]], category: str, accounting_object: str, recorded_by: str,
    ) -> bool:
        """Define a grant; the same definition again records nothing."""
        if self._exists(grant_uuid(grant_id)):
            grant = self.grant(grant_id)
            if grant.same_definition(name, first_year, last_year, purposes, category, accounting_object):
                return False
            raise Duplicate(f"grant {grant_id!r} is already defined with other content")
        self.save(
            Grant.define(grant_id, name, first_year, last_year, purposes, category,
                         accounting_object, recorded_by)
        )
        return True

    @command
    def sign_agreement(self, grant_id: str, year: int, **fields: Any) -> bool:
        grant = self.grant(grant_id)
        recorded = grant.sign_agreement(year=year, **fields)
        self.save(grant)
        return recorded

    @command
    def authorise(self, grant_id: str, region: str, person: str, role: str,
                  valid_from: datetime.date | None, valid_until: datetime.date | None,
                  recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        recorded = grant.authorise(region, person, role, valid_from, valid_until, recorded_by)
        self.save(grant)
        return recorded

    # ------------------------------------------------------------------ funds

    @command
    def allocate(self, grant_id: str, year: int, pot: str, shares: dict[str, Amount],
                 source: str, recorded_by: str) -> int:
        """Allocate shares of a pot to regions, all in one atomic write; returns how many were new."""
        grant = self.grant(grant_id)
        grant.check_pot(year, pot)
        touched = []
        for region, amount in shares.items():
            region_year = self.region_year(grant_id, region, year, recorded_by)
            if region_year.allocate(pot, amount, source, recorded_by):
                touched.append(region_year)
        grant.allocate(year, pot, {ry.region: Amount(ry.allocations[pot]) for ry in touched}, recorded_by)
        self.save(grant, *touched)
        return len(touched)

    def apportion(self, grant_id: str, year: int, pot: str, amount: Amount | None,
                  populations: dict[str, int]) -> dict[str, Amount]:
        """Shares of the pot (or of ``amount``) by population; records nothing."""
        agreement = self.grant(grant_id).check_pot(year, pot)
        return apportion(amount if amount is not None else agreement.pot_amount(pot), populations)

    @command
    def set_frame(self, grant_id: str, region: str, year: int, amount: Amount,
                  on: datetime.date | None, recorded_by: str) -> bool:
        self.grant(grant_id).check_year(year)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        region_year.set_frame(amount, on, recorded_by)
        self.save(region_year)
        return True

    @command
    def requisition(self, grant_id: str, region: str, year: int, pot: str, amount: Amount,
                    on: datetime.date, ref: str, recorded_by: str) -> bool:
        self.grant(grant_id).check_pot(year, pot)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        region_year.requisition(pot, amount, on, ref, recorded_by)
        self.save(region_year)
        return True

    @command
    def reserve(self, grant_id: str, region: str, year: int, amount: Amount, purpose: str,
                on: datetime.date, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        grant.check_year(year)
        grant.check_purpose(purpose)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        region_year.reserve(purpose, amount, on, recorded_by)
        self.save(region_year)
        return True

    @command
    def repay(self, grant_id: str, region: str, year: int, amount: Amount, on: datetime.date,
              ref: str, recorded_by: str, pot: str | None = None) -> bool:
        grant = self.grant(grant_id)
        agreement = grant.agreement(year)
        if pot is None:
            open_pots = [p for p in agreement.pots if p not in agreement.earmarks]
            pot = (open_pots or list(agreement.pots))[0]
        grant.check_pot(year, pot)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        region_year.repay(pot, amount, on, ref, recorded_by)
        self.save(region_year)
        return True

    # ------------------------------------------------------------------ decisions

    def _commit_schedule(self, grant_id: str, decision: Decision, years: set[int],
                         on: datetime.date, recorded_by: str) -> list[RegionYear]:
        """Bring each year's commitment in line with the decision; the years check the rules."""
        touched = []
        for year in sorted(years):
            region_year = self.region_year(grant_id, decision.region, year, recorded_by)
            if region_year.set_commitment(decision.decision_id, decision.purpose,
                                          decision.committed_for(year), on, recorded_by):
                touched.append(region_year)
        return touched

    @command
    def decide(self, grant_id: str, decision_id: str, region: str, decided_by: str,
               on: datetime.date, area: str, activity: str, purpose: str,
               schedule: dict[int, Amount], continuation: str, ref: str, recorded_by: str) -> bool:
        """Record a decision and its commitments; an identical retry records nothing."""
        grant = self.grant(grant_id)
        if self._exists(decision_uuid(grant_id, decision_id)):
            existing = self.decision(grant_id, decision_id)
            if existing.same_decision(region, decided_by, on, area, activity, purpose, schedule,
                                      continuation, ref):
                return False
            raise Duplicate(f"decision {decision_id} already exists in {grant_id} with other content")
        grant.check_purpose(purpose)
        for year in schedule:
            grant.check_year(year)
        grant.check_decider(region, decided_by, on)
        decision = Decision.decide(grant_id, decision_id, region, decided_by, on, area, activity,
                                   purpose, schedule, continuation, ref, recorded_by)
        touched = self._commit_schedule(grant_id, decision, set(schedule), on, recorded_by)
        self.save(decision, *touched)
        return True

    @command
    def amend(self, grant_id: str, decision_id: str, schedule: dict[int, Amount], decided_by: str,
              on: datetime.date, reason: str, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        decision = self.decision(grant_id, decision_id)
        for year in schedule:
            grant.check_year(year)
        grant.check_decider(decision.region, decided_by, on)
        old_years = set(decision.schedule)
        if not decision.amend(schedule, decided_by, on, reason, recorded_by):
            return False
        touched = self._commit_schedule(grant_id, decision, old_years | set(schedule), on, recorded_by)
        self.save(decision, *touched)
        return True

    @command
    def revoke(self, grant_id: str, decision_id: str, decided_by: str, on: datetime.date,
               reason: str, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        decision = self.decision(grant_id, decision_id)
        grant.check_decider(decision.region, decided_by, on)
        decision.revoke(decided_by, on, reason, recorded_by)
        touched = self._commit_schedule(grant_id, decision, set(decision.years), on, recorded_by)
        self.save(decision, *touched)
        return True

    # ------------------------------------------------------------------ bookings

    @command
    def spend(self, grant_id: str, decision_id: str, year: int, amount: Amount,
              booked_on: datetime.date, object: str, voucher: str, text: str,
              recorded_by: str) -> bool:
        """Book a cost on a decision; the same voucher with the same content records nothing."""
        self.grant(grant_id)
        if self._exists(voucher_uuid(grant_id, voucher)):
            booked_on_decision = self.decision_of_voucher(grant_id, voucher)
            if booked_on_decision.decision_id != decision_id:
                raise Duplicate(
                    f"voucher {voucher} is already booked on decision {booked_on_decision.decision_id}"
                )
        decision = self.decision(grant_id, decision_id)
        if voucher not in decision.bookings:
            self.region_year(grant_id, decision.region, year, recorded_by).check_open("book costs")
        if not decision.spend(voucher, year, amount, booked_on, object, text, recorded_by):
            return False
        index = Voucher(grant_id=grant_id, voucher=voucher, decision_id=decision_id,
                        recorded_by=recorded_by)
        self.save(decision, index)
        return True

    @command
    def reverse(self, grant_id: str, voucher: str, on: datetime.date, reason: str,
                recorded_by: str) -> bool:
        self.grant(grant_id)
        decision = self.decision_of_voucher(grant_id, voucher)
        booking = decision.booking(voucher)
        if not booking.is_reversed:
            self.region_year(grant_id, decision.region, booking.year, recorded_by).check_open("reverse a booking")
        if not decision.reverse(voucher, on, reason, recorded_by):
            return False
        touched = self._commit_schedule(grant_id, decision, {booking.year}, on, recorded_by)
        self.save(decision, *touched)
        return True

    # ------------------------------------------------------------------ report and close

    @command
    def report(self, grant_id: str, region: str, year: int, filed_on: datetime.date,
               covers: list[str], patient_units: bool | None, employee_reps: bool | None,
               to: str | None, ref: str, recorded_by: str,
               seal: Callable[[], tuple[dict[str, Amount], int, str]] | None = None) -> bool:
        """File the year's report; ``seal`` gives the figures it reports and the history's
        position and digest (computed by the read side just before the write)."""
        grant = self.grant(grant_id)
        agreement = grant.agreement(year)
        for purpose in covers:
            grant.check_purpose(purpose)
        if to is None:
            to = agreement.report_to
        region_year = self.region_year(grant_id, region, year, recorded_by)
        figures, position, digest = seal() if seal else ({}, 0, "")
        recorded = region_year.file_report(filed_on, to, covers, patient_units, employee_reps,
                                           ref, recorded_by, figures, position, digest)
        if recorded:
            self.save(region_year)
        return recorded

    @command
    def close_year(self, grant_id: str, region: str, year: int, on: datetime.date,
              recorded_by: str) -> bool:
        self.grant(grant_id).check_year(year)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        region_year.close(on, recorded_by)
        self.save(region_year)
        return True

    @command
    def reopen_year(self, grant_id: str, region: str, year: int, on: datetime.date, reason: str,
               recorded_by: str) -> bool:
        self.grant(grant_id).check_year(year)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        region_year.reopen(on, reason, recorded_by)
        self.save(region_year)
        return True

    # ------------------------------------------------------------------ reading the log

    def read(self, stop: int | None = None, batch: int = 5000, start: int = 1,
             topics: tuple[str, ...] = ()) -> Iterator[tuple[Any, Any]]:
        """Every stored event in recording order, as (notification, domain event).

        ``start`` is the first position to include, ``stop`` the last (None: everything);
        ``topics``, when given, keeps only events with those topics.
        """
        while True:
            notifications = self.recorder.select_notifications(
                start=start, limit=batch, stop=stop, topics=topics)
            for notification in notifications:
                yield notification, self.decode(notification, notification.id)
            if len(notifications) < batch:
                return
            start = notifications[-1].id + 1

    def decode(self, stored: Any, position: int) -> Any:
        """A stored event as a domain event; one that cannot be read back is Corrupt."""
        try:
            return self.mapper.to_domain_event(stored)
        except Exception as e:  # undecodable bytes, an unknown topic, a missing field
            detail = str(e) if isinstance(e, Corrupt) else type(e).__name__
            raise Corrupt(f"the stored event at position {position} cannot be read back ({detail}); "
                          "the stored history was altered (see grants verify)") from None

    def last_position(self) -> int:
        return self.recorder.max_notification_id() or 0

