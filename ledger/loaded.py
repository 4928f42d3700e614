"""Aggregates a ledger process has loaded or saved, kept to be caught up instead of rebuilt.

Recording one command after another (a script booking a month of vouchers, an import,
a benchmark) loads the same grant, region-year and decision again and again. Rebuilding
each from its snapshot and the events after it costs time that grows with the
aggregate (a decision with 50 000 bookings decodes them all). A ledger process instead
keeps what it loaded or saved here. A command first asks the store for its last
position (one query): when nothing but this process's own writes was recorded since it
last looked, every kept aggregate is current as it is; otherwise a kept aggregate is
caught up, on its next load, with the events stored after its version (one query; usually
none), applied with the same strict replay (:func:`ledger.events.advance`). Another
process's writes are thus always seen, and a conflicting write still fails the save as
before. (Positions are handed out in commit order: SQLite has one writer at a time, and
the event library locks the PostgreSQL table while it inserts; a gap in them only means
a catch-up.)

What is kept is never trusted further than the store's own events:

- an aggregate is handed out only while its version is the one it was kept at: one that
  a command changed and did not save (a refused batch, a failed write, a dry run) is
  dropped and loaded afresh;
- within one command (see :meth:`Loaded.command`), an aggregate is handed out once; a
  second load in the same command is a fresh one, as without the cache, so two
  references never share unsaved changes;
- kept aggregates are not re-read: a row altered in place under a running process is
  found by ``grants verify`` or the next process, not by this one;
- each thread has its own (``StoredLedger.loaded``): a web server's threads reading the
  same grant never share the object one of them is catching up;
- only the aggregates that are snapshotted (Grant, RegionYear, Decision) are kept, at
  most ``size`` of them, the least recently used dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID


class Loaded:
    """A process's kept aggregates, by id (see the module)."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._kept: OrderedDict[UUID, tuple[int, int, Any]] = OrderedDict()  # version, epoch, aggregate
        self._lent: set[UUID] | None = None  # the ids handed out in the current command
        self._depth = 0
        self._looked = False  # the store's position was asked in the current command
        # Kept aggregates of the current epoch hold every event up to `position`; the epoch
        # moves on when the store is found to have events this process did not write.
        self.epoch = 0
        self.position: int | None = None

    def __len__(self) -> int:
        return len(self._kept)

    @contextmanager
    def command(self) -> Iterator[None]:
        """One command (or one attempt of it): an aggregate is handed out once within it."""
        self._depth += 1
        if self._depth == 1:
            self._lent, self._looked = set(), False
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._lent, self._looked = None, False

    def _look(self, position: Callable[[], int]) -> None:
        """Ask the store's last position (once per command): a new one starts a new epoch."""
        if self._looked:
            return
        now = position()
        if now != self.position:
            self.epoch += 1
            self.position = now
        self._looked = self._lent is not None

    def take(self, aggregate_id: UUID, catch_up: Callable[[Any], Any], position: Callable[[], int]) -> Any | None:
        """The kept aggregate, current: as kept when the store has only this process's writes
        since (``position`` gives its last position), else caught up by ``catch_up`` (which
        applies the events stored after its version); None when none is kept, it was changed
        since it was kept, or it was already handed out in this command."""
        kept = self._kept.get(aggregate_id)
        if kept is None:
            return None
        version, epoch, aggregate = kept
        lent = self._lent
        if aggregate.version != version or aggregate._pending_events or (lent is not None and aggregate_id in lent):
            if lent is None or aggregate_id not in lent:
                del self._kept[aggregate_id]
            return None
        try:
            self._look(position)
            if epoch != self.epoch:
                aggregate = catch_up(aggregate)
        except BaseException:
            del self._kept[aggregate_id]
            raise
        self._kept[aggregate_id] = (aggregate.version, self.epoch, aggregate)
        self._kept.move_to_end(aggregate_id)
        if lent is not None:
            lent.add(aggregate_id)
        return aggregate

    def keep(self, aggregate: Any) -> None:
        """Keep an aggregate just loaded or saved (at its current version, which holds at least
        every event up to the last position looked at)."""
        if aggregate._pending_events:
            return
        self._kept[aggregate.id] = (aggregate.version, self.epoch, aggregate)
        self._kept.move_to_end(aggregate.id)
        if self._lent is not None:
            self._lent.add(aggregate.id)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def wrote(self, positions: list[int]) -> None:
        """This process recorded events at these positions: when they follow the last position
        looked at with nothing between, what is kept stays current; else a new epoch starts."""
        if not positions:
            return
        first, last = min(positions), max(positions)
        if self.position is None or first != self.position + 1 or last - first + 1 != len(positions):
            self.epoch += 1
        self.position = last

    def forget(self) -> None:
        """Drop everything kept (a store rebuilt or replaced under the process)."""
        self._kept.clear()
