"""The read models' connection: SQL on SQLite and PostgreSQL alike, transactions, the
tables made or remade for the current layout, the tracking position."""

from __future__ import annotations


from collections.abc import Iterable
from typing import Any



from projections.digest import GENESIS
from projections.persisted.cells import _altered
from projections.persisted.schema import CHECKPOINT, NAME, SNAPSHOT, TABLES, _connect, _older_layout, _schema


class Base:
    """The connection every part of the read models works through (see ReadModels)."""

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
