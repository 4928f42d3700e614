"""The read models' reading of the ledger's event table: stored rows in batches, through
:mod:`ledger.library` (the one place that knows the event library's tables and bytes)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ledger.library import Row, aggregate_rows, aggregates_rows, aggregates_rows_after, stamp_of, stored_rows
from projections.persisted.base import Base

if TYPE_CHECKING:  # annotations only: the package's class is made of these modules
    from projections.persisted import ReadModels


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


class StoredRows(Base):
    """Reading the ledger's event table directly (mixed into ReadModels)."""

    def _run_events(self, statement: str, params: Iterable[Any] = ()) -> list[Any]:
        """A query on the ledger's event table (statements from :mod:`ledger.library`)."""
        sql = statement.replace("?", "%s") if self.source_postgres else statement
        return self.source.execute(sql, tuple(params)).fetchall()

    def _stored(self, start: int, limit: int, stop: int | None = None) -> list[Row]:
        """Stored events from position ``start`` on, as (position, aggregate id bytes, version,
        topic, state), read straight from the event table."""
        return stored_rows(self._run_events, self.source_postgres, start, limit, stop)

    def _aggregate_rows(self, oid: uuid.UUID, after: int, cut: int) -> list[tuple[int, int, str, bytes]]:
        """One aggregate's stored events after version ``after`` up to position ``cut``, as
        (position, version, topic, state), in version order."""
        return aggregate_rows(self._run_events, self.source_postgres, oid, after, cut)

    def _aggregates_after(self, after: dict[uuid.UUID, int], cut: int) -> dict[uuid.UUID, list[tuple[int, int, str, bytes]]]:
        """Many aggregates' stored events, each after its own version, up to position ``cut``."""
        return aggregates_rows_after(self._run_events, self.source_postgres, after, cut)

    def _aggregates_rows(self, oids: list[uuid.UUID], cut: int | None) -> list[Row]:
        """Many aggregates' stored events up to position ``cut``, as stored rows in recording order."""
        return aggregates_rows(self._run_events, self.source_postgres, oids, cut)
