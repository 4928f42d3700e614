"""Hold the persisted read models to the events: what `grants verify` proves of the cache.

The read models are rebuilt aside, in a scratch SQLite file, from the ledger's own events
up to the position the stored read models say they applied, by the very code that keeps
them (``ReadModels.catch_up``); then every table is compared with the stored one, row by
row in key order. Any row altered, added or removed (tracking, digest checkpoints,
aggregate states, kept states, the audit listing, balances, commitments, seals) is named.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

from projections.persisted import ReadModels

# every read-model table and its key, in the order they are compared
KEYS: dict[str, tuple[str, ...]] = {
    "grants_rm_tracking": ("name",),
    "grants_rm_checkpoints": ("position",),
    "grants_rm_aggregates": ("id",),
    "grants_rm_snapshots": ("id", "position"),
    "grants_rm_history": ("grant_id", "year", "region", "position"),
    "grants_rm_balances": ("grant_id", "region", "year"),
    "grants_rm_commitments": ("grant_id", "decision", "year"),
    "grants_rm_seals": ("id",),
}


class Differs(Exception):
    """A read model's row is not what the events give; the message names the table and row."""


def compare(models: ReadModels, app: Any) -> int:
    """Rebuild the read models aside and compare every table; returns how many rows agreed."""
    position = models.position()
    with tempfile.TemporaryDirectory(prefix="grants-verify-") as scratch:
        aside = ReadModels(models.target, checkpoint=models.checkpoint, snapshot=models.snapshot,
                           aside=os.path.join(scratch, "aside.sqlite"))
        try:
            aside.catch_up(app, batch=20000, helper=False, stop=position)
            if aside.position() != position:
                raise Differs(f"the read models applied events up to position {position}, but the store "
                              f"holds them only up to {aside.position()}; events were removed")
            return sum(_same(models, aside, table, keys) for table, keys in KEYS.items())
        finally:
            aside.close()


def _rows(models: ReadModels, table: str, keys: tuple[str, ...]) -> tuple[list[str], Iterator[tuple]]:
    order = ", ".join(f'{k} COLLATE "C"' if models.postgres and k not in _NUMERIC else k for k in keys)
    cursor = models.conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
    columns = [d[0] for d in cursor.description]
    return columns, (tuple(_plain(v) for v in row) for row in cursor)


_NUMERIC = {"position", "year"}


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _rank(value: Any) -> tuple:
    """A sort key in SQLite's order of types (NULL, numbers, text, blobs), for any cell."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, bytes):
        return (3, value)
    return (4, repr(value))


def _same(stored: ReadModels, aside: ReadModels, table: str, keys: tuple[str, ...]) -> int:
    columns, mine = _rows(stored, table, keys)
    expected_columns, theirs = _rows(aside, table, keys)
    if columns != expected_columns:
        raise Differs(f"read model {table} has the columns {', '.join(columns)}, not the ones it is built with")
    at = [columns.index(k) for k in keys]
    agreed = 0
    a, b = next(mine, None), next(theirs, None)
    while a is not None or b is not None:
        ka = None if a is None else tuple(_rank(a[i]) for i in at)
        kb = None if b is None else tuple(_rank(b[i]) for i in at)
        if kb is None or (ka is not None and ka < kb):
            raise Differs(f"read model {table} holds a row {_key(a, at)} that the events do not give")
        if ka is None or kb < ka:
            raise Differs(f"read model {table} lacks the row {_key(b, at)} that the events give")
        if a != b:
            changed = [f"{c} {_short(x)} stored, {_short(y)} from the events"
                       for c, x, y in zip(columns, a, b) if x != y]
            raise Differs(f"read model {table}, row {_key(a, at)}: {'; '.join(changed[:3])}")
        agreed += 1
        a, b = next(mine, None), next(theirs, None)
    return agreed


def _key(row: tuple, at: list[int]) -> str:
    return "(" + ", ".join(str(row[i]) for i in at) + ")"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
