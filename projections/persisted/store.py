"""Everything the read models know of the event library's own storage: how a stored
row's recording time is read without decoding it, and stored rows read in batches."""

from __future__ import annotations

from typing import TYPE_CHECKING


import datetime
import re
from collections.abc import Iterable



from ledger.errors import Corrupt

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
