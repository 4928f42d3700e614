"""Kept states decoded once per process, shared by the questions that only read them.

A web page asks several questions of the same region's aggregates (its commitments, its
compliance, its reclaims, its audit), and a server answers page after page about the same
ledger: decoding and validating each aggregate's kept state every time is most of the
work. Here a state is decoded once and kept under the digest of its read-model row — the
seal the row was just checked against, which hashes the state's bytes with the row's other
cells — so a row that changed (or was altered) is never answered from an older decoding.

Only readers take states from here: the catch-up changes the aggregates it loads, so it
decodes its own (``Reading.load``). A state taken from here must not be changed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from projections.persisted.cells import _decode_state

LIMIT = 64 * 1024 * 1024  # bytes of kept state whose decodings are held (least recently used go first)


class Decodings:
    """Decoded kept states by the digest of their checked rows, least recently used first out."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.held = 0
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def held_by_kind(self, kind: str) -> int:
        """Bytes of kept state held, of one kind of aggregate."""
        with self._lock:
            return sum(size for aggregate, size in self._items.values() if type(aggregate).__name__ == kind)

    def get(self, kind: str, state: Any, digest: str) -> Any:
        """The aggregate a checked row's state holds (``digest``: the seal it was checked against)."""
        with self._lock:
            hit = self._items.get(digest)
            if hit is not None:
                self._items.move_to_end(digest)
                return hit[0]
        aggregate = _decode_state(kind, state)
        size = len(state)
        with self._lock:
            if digest not in self._items and size <= self.limit:
                self._items[digest] = (aggregate, size)
                self.held += size
                while self.held > self.limit:
                    _, (_, dropped) = self._items.popitem(last=False)
                    self.held -= dropped
        return aggregate

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.held = 0


DECODED = Decodings()


def current(row: tuple) -> Any:
    """The aggregate of a head row checked by ``Reading._heads`` (its kind, state and digest
    at 1, 8 and 9), to read and not to change."""
    return DECODED.get(row[1], row[8], row[9])
