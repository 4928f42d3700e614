"""Everything the read models know of the event library's own storage, in one place: its
event table and position column in each store, stored rows read straight from it in
batches (the digest needs the stored bytes; only the events a read model applies are
decoded), and a stored row's recording time read without decoding it."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ledger.errors import Corrupt
from projections.persisted.base import Base
from projections.persisted.cells import _is_hex_id

if TYPE_CHECKING:  # annotations only: the package's class is made of these modules
    from projections.persisted import ReadModels


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

    def _aggregate_rows(self, oid: uuid.UUID, after: int, cut: int) -> list[tuple[int, int, str, bytes]]:
        """One aggregate's stored events after version ``after`` up to position ``cut``, as
        (position, version, topic, state), in version order."""
        table, key = self._events
        rows = self._read_events(
            f"SELECT {key}, originator_version, topic, state FROM {table} WHERE originator_id = ? "
            f"AND originator_version > ? AND {key} <= ? ORDER BY originator_version",
            (oid if self.source_postgres else oid.hex, after, cut))
        return [(int(p), v, t, bytes(s)) for p, v, t, s in rows]
