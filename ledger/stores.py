"""Which store a ``--db`` names, and holding it: nothing is written to a store before it is
known to be a ledger.

An SQLite file is a ledger when it has the ledger's event table with the ledger's events
(:func:`sqlite_fault`); a new one is made whole under a private name and linked into
place, held by a shared advisory lock for as long as the process uses it, and removed
again when the command that created it fails (:class:`SQLiteClaim`). A PostgreSQL schema
is checked with one connection before the pool is made (:func:`check_postgres`).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat

from ledger.errors import Conflict, Malformed
from ledger.library import EVENT_COLUMNS, POSTGRES_EVENTS, SQLITE_EVENTS

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks, so a created ledger is never removed again
    fcntl = None  # type: ignore[assignment]


# --------------------------------------------------------------------------- which store, checked

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


class Claimed:
    """A store checked to be a ledger (or, unless ``must_exist``, made one) and, for an
    SQLite file, held by this process: what opening the event library's application on it
    needs (``ledger.persistence.open_claimed``). A query that reads only the read models
    never needs the application; the claim is let go when the command ends."""

    def __init__(self, env: dict[str, str], claim: SQLiteClaim | None, facts: ServerFacts | None) -> None:
        self.env = env
        self.claim = claim
        self.facts = facts

    def release(self) -> None:
        if self.claim is not None:
            self.claim.release()


def claim_store(target: str, must_exist: bool = False) -> Claimed:
    """Check that ``target`` is a ledger (see :func:`claim_sqlite`, :func:`check_postgres`),
    writing nothing to one that is not; with ``must_exist``, no ledger there is an error."""
    env = store_env(target)
    if env["PERSISTENCE_MODULE"].endswith("sqlite"):
        return Claimed(env, claim_sqlite(env["SQLITE_DBNAME"], target, must_exist), None)
    return Claimed(env, None, check_postgres(env, must_exist))


# --------------------------------------------------------------------------- is it a ledger?

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
        from eventsourcing.persistence import PersistenceError

        from ledger.application import GrantLedger

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


class ServerFacts:
    """What the server said about this connection's role and the schema (see check_postgres)."""

    def __init__(self, role: str, has_events: bool, may_record: bool) -> None:
        self.role = role                # the role the server authenticated (session_user)
        self.has_events = has_events    # the event table exists (so nothing need be created)
        self.may_record = may_record    # the role may insert events (or create the table)


def check_postgres(env: dict[str, str], must_exist: bool) -> ServerFacts:
    """Connect once, at once, and make sure the schema is a ledger's, or empty (a new one).

    A wrong host, port, database, user or password is Malformed with the server's own
    reason (the connection pool would retry for its whole timeout and hide it). A
    schema with tables but not the ledger's event table is refused: the ledger never
    creates its tables beside someone else's. Returns the role the server authenticated
    and what it may do here.
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
        qualified = '"' + schema.replace('"', '""') + '".' + POSTGRES_EVENTS
        if POSTGRES_EVENTS in tables:
            role, may_record = conn.execute("SELECT session_user, has_table_privilege(%s, 'INSERT')",
                                            [qualified]).fetchone()
        else:
            role, may_record = conn.execute("SELECT session_user, has_schema_privilege(%s, 'CREATE')",
                                            [schema]).fetchone()
        return ServerFacts(role, POSTGRES_EVENTS in tables, bool(may_record))
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
