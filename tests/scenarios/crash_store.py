"""Where one crash run's ledgers live, and what a killed `grants` process left there, seen
from outside (the crash harness of test_crash.py; see crashing.py)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

from ledger.application import GrantLedger
from ledger.persistence import store_env


class Store:
    """Where one crash run's ledgers live: SQLite files in a folder, or PostgreSQL schemas
    beside the main one (created and dropped here)."""

    def __init__(self, main: str, workdir: Path) -> None:
        self.main = main
        self.workdir = Path(workdir)
        self.postgres = main.startswith(("postgresql://", "postgres://"))
        self.kind = "postgres" if self.postgres else "sqlite"
        self.schemas: list[str] = []
        self._main_app: GrantLedger | None = None
        if self.postgres:
            import psycopg

            self.base = main.split("?", 1)[0]
            self.schema = parse_qs(urlsplit(main).query)["schema"][0]
            self.admin = psycopg.connect(self.base, autocommit=True, connect_timeout=5)

    def close(self) -> None:
        if self._main_app is not None:
            self._main_app.close()
        if self.postgres:
            for schema in self.schemas:
                self.admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.admin.close()

    def fresh(self, name: str) -> str:
        """A new, empty place for a ledger (nothing created in it yet on SQLite)."""
        if self.postgres:
            schema = f"{self.schema}_{name}"
            self.admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.admin.execute(f'CREATE SCHEMA "{schema}"')
            self.schemas.append(schema)
            return f"{self.base}?schema={schema}"
        path = self.workdir / f"{name}.sqlite"
        self.discard(str(path))
        return str(path)

    def discard(self, target: str) -> None:
        if self.postgres:
            schema = parse_qs(urlsplit(target).query)["schema"][0]
            self.admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.schemas.remove(schema)
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(target + suffix):
                os.remove(target + suffix)

    def settle(self, application_name: str, timeout: float = 20.0) -> None:
        """Wait until the server has ended every session of a killed process."""
        if not self.postgres:
            return
        deadline = time.monotonic() + timeout
        while self.admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                 (application_name,)).fetchone()[0]:
            assert time.monotonic() < deadline, f"the server kept a killed process's session {timeout} s"
            time.sleep(0.01)

    def writing(self, target: str, application_name: str, pid: int) -> bool:
        """Whether a process holds a write transaction open on the store right now, seen from
        outside without touching it. PostgreSQL: one of its sessions (by application name)
        has a transaction id, given at its first write or row lock. SQLite (WAL): the process
        holds the write lock, byte 120 of the -shm file, as /proc/locks lists it (elsewhere:
        whether the write lock can be taken at all)."""
        if self.postgres:
            return bool(self.admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND backend_xid IS NOT NULL",
                (application_name,)).fetchone()[0])
        try:
            inode = os.stat(target + "-shm").st_ino
        except OSError:  # no connection in WAL mode yet
            return False
        try:
            with open("/proc/locks", encoding="ascii", errors="replace") as f:
                locks = f.read()
        except OSError:
            return self._locked(target)
        for line in locks.splitlines():
            # "1: POSIX  ADVISORY  WRITE 22593 fe:00:2146361 120 120" (waiters start "1: ->")
            parts = line.split()
            if (len(parts) == 8 and parts[1] == "POSIX" and parts[3] == "WRITE" and parts[4] == str(pid)
                    and parts[5].endswith(f":{inode}") and parts[6] == "120"):
                return True
        return False

    @staticmethod
    def _locked(target: str) -> bool:
        """Whether SQLite's write lock is taken (by trying to take it for an instant)."""
        import sqlite3

        try:
            probe = sqlite3.connect(f"file:{target}?mode=rw", uri=True, timeout=0, isolation_level=None)
        except sqlite3.OperationalError:  # no file yet
            return False
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as e:
            return "locked" in str(e)
        finally:
            probe.close()

    def drop_read_models(self, target: str) -> int:
        """Drop every read-model table (grants_rm_*), as a freshly imported ledger has none."""
        if self.postgres:
            schema = parse_qs(urlsplit(target).query)["schema"][0]
            names = [r[0] for r in self.admin.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE 'grants\\_rm\\_%%'",
                (schema,)).fetchall()]
            for name in names:
                self.admin.execute(f'DROP TABLE "{schema}"."{name}" CASCADE')
            return len(names)
        import sqlite3

        conn = sqlite3.connect(target, isolation_level=None)
        try:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'grants\\_rm\\_%' ESCAPE '\\'")]
            for name in names:
                conn.execute(f'DROP TABLE "{name}"')
            return len(names)
        finally:
            conn.close()

    def events(self, target: str, after: int = 0) -> list[tuple[int, str]]:
        """(position, topic) of the stored events after a position, read through the library."""
        if not self.postgres and not os.path.exists(target):
            return []
        with self.ledger(target) as app:
            found: list[tuple[int, str]] = []
            while True:
                batch = app.recorder.select_notifications(start=after + 1, limit=2000)
                found += [(n.id, n.topic) for n in batch]
                if len(batch) < 2000:
                    return found
                after = batch[-1].id

    def last(self, target: str) -> int:
        """The last position of the stored events (0: none)."""
        with self.ledger(target) as app:
            return app.last_position()

    @contextlib.contextmanager
    def ledger(self, target: str) -> Iterator[GrantLedger]:
        """The ledger at a target, to read; the main one stays open for the whole run."""
        if target == self.main:
            if self._main_app is None:
                self._main_app = GrantLedger(env=store_env(target))
            yield self._main_app
            return
        app = GrantLedger(env=store_env(target))
        try:
            yield app
        finally:
            app.close()

    def read_model_position(self, target: str) -> int | None:
        """Where the read models stand (None: no read models, or not readable as such)."""
        from projections.persisted import ReadModels

        try:
            models = ReadModels(target, create=False)
        except Exception:
            return None
        try:
            return models.position()
        except Exception:  # the tables do not exist (yet)
            return None
        finally:
            models.close()
