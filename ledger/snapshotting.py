"""Loading from snapshots and keeping them: the half of :class:`ledger.persistence.StoredLedger`
that uses the snapshot table of :mod:`ledger.snapshots` (see there for what is checked)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger import states
from ledger.errors import Corrupt
from ledger.events import advance
from ledger.library import aggregate_rows, is_sql
from ledger.snapshots import CLASSES, KINDS, Snapshots, event_hash, seal_of


class Snapshotting:
    """Mixed into StoredLedger (which provides ``recorder`` and ``decode``)."""

    # Snapshots (see ledger.snapshots): an aggregate is kept once `snapshot_every(version)`
    # of its events were replayed to load it, or its version passes a multiple of that as it
    # is saved: every 64 events, and every 1/16 to 1/8 of its version when larger (a
    # snapshot's cost grows with the aggregate, so it is kept as often as it pays).
    snapshot_interval = 64
    _snapshots: Snapshots | None = None
    _stale: set[UUID] | None = None  # loaded by replaying snapshot_interval events or more

    def snapshot_every(self, version: int) -> int:
        """How many events apart an aggregate of this version is snapshotted: ``snapshot_interval``,
        doubled while it is at most a sixteenth of the version."""
        every = self.snapshot_interval
        while every * 16 <= version:
            every *= 2
        return every

    @property
    def snapshot_table(self) -> Snapshots | None:
        """The store's snapshot table (None: an in-memory store, which keeps none)."""
        if self._snapshots is None and is_sql(self.recorder):
            self._snapshots = Snapshots(self.recorder)
        return self._snapshots

    def _mark_stale(self, aggregate_id: UUID) -> None:
        if self._stale is None:
            self._stale = set()
        self._stale.add(aggregate_id)

    def _from_snapshot(self, aggregate_id: UUID) -> Any:
        """The aggregate from its snapshot and its events after it, when the snapshot fits them
        (see ledger.snapshots); None when there is none or it does not fit."""
        snapshots = self.snapshot_table
        if snapshots is None:
            return None
        row = snapshots.get(aggregate_id)
        if row is None:
            return None
        version, kind, sha, state, seal = row
        if seal != seal_of(aggregate_id, version, kind, sha, state) or kind not in CLASSES:
            return None
        try:
            aggregate = states.load(state, kind)
        except Corrupt:
            return None
        if aggregate.id != aggregate_id or aggregate.version != version or type(aggregate) is not CLASSES[kind]:
            return None
        rows = aggregate_rows(snapshots.run, snapshots.postgres, aggregate_id, version - 1, table=snapshots.events)
        if not rows or rows[0][1] != version or event_hash(rows[0][2], rows[0][3]) != sha:
            return None
        try:
            first = self.decode(self._stored(aggregate_id, rows[0]), rows[0][0])
            if first.timestamp != aggregate.modified_on:
                return None
            for row_ in rows[1:]:
                aggregate = advance(aggregate, self.decode(self._stored(aggregate_id, row_), row_[0]), row_[0])
        except Corrupt:
            return None  # the full replay names what does not apply
        if len(rows) > self.snapshot_every(aggregate.version):
            self._mark_stale(aggregate_id)
        return aggregate

    @staticmethod
    def _stored(aggregate_id: UUID, row: tuple) -> StoredEvent:
        return StoredEvent(originator_id=aggregate_id, originator_version=row[1], topic=row[2], state=bytes(row[3]))

    def _due(self, objs: Any) -> list[Any]:
        """Of the aggregates about to be saved, those whose snapshot is due."""
        stale = self._stale or ()
        due = []
        for a in objs:
            if type(a) in KINDS:
                pending = len(a._pending_events)
                every = self.snapshot_every(a.version)
                if pending and (a.id in stale or a.version // every > (a.version - pending) // every):
                    due.append(a)
        return due

    def _keep(self, aggregates: list[Any], recordings: Any) -> None:
        snapshots = self.snapshot_table
        if snapshots is None or snapshots.broken:
            return
        stored = {(r.domain_event.originator_id, r.domain_event.originator_version): r.notification
                  for r in recordings}
        rows = []
        for a in aggregates:
            notification = stored.get((a.id, a.version))
            if notification is not None:
                rows.append((a.id, a.version, KINDS[type(a)], event_hash(notification.topic, notification.state),
                             states.dump(a)))
            if self._stale:
                self._stale.discard(a.id)
        try:
            snapshots.put(rows)
        except Exception:  # noqa: BLE001 (a role that may not create the table, a busy store: keep none)
            snapshots.broken = True

    def check_snapshots(self) -> int:
        """Every snapshot must be exactly what its aggregate's events up to its version give
        (what ``grants verify`` checks); Corrupt names the first that is not. Returns how many."""
        snapshots = self.snapshot_table
        if snapshots is None:
            return 0
        count = 0
        for aggregate_id, text, version, kind, sha, state, seal in snapshots.all():
            what = f"the snapshot of aggregate {text[:40]!r}"
            if aggregate_id is None or seal != seal_of(aggregate_id, version, kind, sha, state):
                raise Corrupt(f"{what} does not match its seal; it was altered (grants rebuild clears snapshots)")
            rows = aggregate_rows(snapshots.run, snapshots.postgres, aggregate_id, 0, cut=None,
                                  table=snapshots.events)
            rows = [r for r in rows if r[1] <= version]
            if len(rows) != version or event_hash(rows[-1][2], rows[-1][3]) != sha:
                raise Corrupt(f"{what} names version {version}, which is not the event it was taken at; "
                              "it was altered (grants rebuild clears snapshots)")
            replayed = None
            for row in rows:
                replayed = advance(replayed, self.decode(self._stored(aggregate_id, row), row[0]), row[0])
            if KINDS.get(type(replayed)) != kind or states.dump(replayed) != state:
                raise Corrupt(f"{what} at version {version} is not what its events give; it was altered "
                              "(grants rebuild clears snapshots)")
            count += 1
        return count
