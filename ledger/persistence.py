"""The ledger's store, apart from its rules: how events are stored and read back, and retries.

A store is untrusted input. :class:`StoredLedger` is the event library's application
with the ledger's own mapper (a stored topic is looked up in the catalogue of
:mod:`ledger.events`, never imported; fields are type-checked), dates stored as ISO
strings, a strict replay that names the position of anything that does not apply, and
the log read in recording order. :func:`store_env` turns ``--db`` into the library's
settings; :func:`retried` retries a write that collided with another writer, after a
jittered pause, within a time budget. The rules live in :mod:`ledger.application`.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Mapper, PersistenceError, RecordConflictError, StoredEvent

from ledger.errors import Conflict, Corrupt, LedgerError
from ledger.decoding import CheckedMapper, decoded, register_transcodings
from ledger.events import advance
from ledger.loaded import Loaded
from ledger.library import aggregate_rows, is_postgres, recorder_table, run_on_recorder
from ledger.snapshots import KINDS
from ledger.snapshotting import Snapshotting
from ledger.stores import Claimed, ServerFacts, SQLiteClaim, claim_store
from ledger.stores import store_env  # noqa: F401 (re-exported: where the benchmarks and tests import it)

A = TypeVar("A")
L = TypeVar("L", bound="StoredLedger")


CONTENTION = ("concurrently updated", "deadlock", "database is locked", "could not serialize",
              "lock timeout", "canceling statement due to lock")


def is_contention(error: BaseException) -> bool:
    """A store error caused by another writer, worth retrying (not a broken store)."""
    return isinstance(error, RecordConflictError) or (
        isinstance(error, PersistenceError) and any(c in str(error).lower() for c in CONTENTION)
    )


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential back-off: a random pause up to ``base * 2**attempt`` (at most
    ``cap``), so writers that collided spread out instead of colliding again in step."""
    return random.uniform(0, min(cap, base * 2 ** min(attempt, 30)))


def retried(method: Callable[..., A]) -> Callable[..., A]:
    """Run a service method; on a concurrent-write conflict, reload and retry after a jittered
    pause, for as long as the ledger's retry budget lasts, then give up (Conflict)."""

    @functools.wraps(method)
    def wrapper(self: StoredLedger, *args: Any, **kwargs: Any) -> A:
        deadline = time.monotonic() + self.retry_budget
        attempt = 0
        while True:
            try:
                with self.loaded.command():
                    return method(self, *args, **kwargs)
            except PersistenceError as e:
                if not is_contention(e):
                    raise
            pause = backoff(attempt, self.retry_base, self.retry_cap)
            attempt += 1
            if time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
        raise Conflict(
            f"another writer kept changing the same data; gave up after {attempt} attempts in "
            f"{self.retry_budget:g} s and recorded nothing"
        )

    return wrapper


def _strictly(aggregate: Any, events: Iterator[Any]) -> Any:
    """Replay an aggregate's events, each its next version (see :func:`ledger.events.advance`)."""
    for event in events:
        aggregate = advance(aggregate, event, 0)
    return aggregate


class StoredLedger(Snapshotting, Application):
    """The event library's application with the ledger's checked store (see the module)."""

    # Retrying a write that collided with another writer: pauses drawn by `backoff` from
    # `retry_base` seconds doubling up to `retry_cap`, for at most `retry_budget` seconds.
    retry_budget = 20.0
    retry_base = 0.01
    retry_cap = 0.5
    _claim: SQLiteClaim | None = None
    server: ServerFacts | None = None  # on PostgreSQL: the authenticated role and its rights

    def close(self) -> None:
        """Close the store, then let go of the ledger file (see :class:`SQLiteClaim`)."""
        try:
            super().close()
        finally:
            claim, self._claim = self._claim, None
            if claim is not None:
                claim.release()

    def abandon(self) -> None:
        """The command using this ledger failed: if it created the SQLite file and nothing
        was recorded, the file is removed again when the ledger is closed."""
        if self._claim is not None:
            self._claim.remove_on_release = True

    def construct_mapper(self) -> Mapper:
        return CheckedMapper(transcoder=self.construct_transcoder())

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        register_transcodings(transcoder)  # the same as a mapper without the application

    # ------------------------------------------------------------------ loading

    @property
    def loaded(self) -> Loaded:
        """The aggregates this thread of the process loaded or saved, caught up on the next load
        (see :mod:`ledger.loaded`; one per thread, so no two threads share an aggregate)."""
        local = self.__dict__.get("_loaded")
        if local is None:
            local = self.__dict__.setdefault("_loaded", threading.local())
        loaded = getattr(local, "kept", None)
        if loaded is None:
            loaded = local.kept = Loaded()
        return loaded

    def _get(self, aggregate_id: UUID) -> Any:
        """An aggregate kept by this process and caught up, or from its snapshot and the events
        after it, or from all its stored events; a history that does not replay is Corrupt."""
        try:
            aggregate = self.loaded.take(aggregate_id, self._catch_up, self.last_position)
            if aggregate is not None:
                return aggregate
            aggregate = self._from_snapshot(aggregate_id)
            if aggregate is None:
                aggregate = self.repository.get(aggregate_id, projector_func=_strictly)
                if aggregate.version >= self.snapshot_every(aggregate.version) and type(aggregate) in KINDS:
                    self._mark_stale(aggregate_id)
            if type(aggregate) in KINDS:
                self.loaded.keep(aggregate)
            return aggregate
        except (AggregateNotFoundError, LedgerError):
            raise
        except Exception:
            raise self._fault(aggregate_id) from None

    def _catch_up(self, aggregate: Any) -> Any:
        """A kept aggregate with the events stored after its version applied (strictly)."""
        events = list(self.repository.event_store.get(aggregate.id, gt=aggregate.version))
        for event in events:
            aggregate = advance(aggregate, event, 0)
        if len(events) >= self.snapshot_every(aggregate.version):
            self._mark_stale(aggregate.id)
        return aggregate

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Store the aggregates' new events in one atomic write (the library's save); then keep
        a snapshot of each that is due (see ``snapshot_every``), in a transaction of its
        own after the events' (a snapshot that is not written is only time lost), and keep
        them for the next command (see ``ledger.loaded``)."""
        due = self._due(objs)
        recordings = super().save(*objs, **kwargs)
        self.loaded.wrote([r.notification.id for r in recordings if r.notification is not None])
        for a in objs:
            if type(a) in KINDS:
                self.loaded.keep(a)
        if due:
            self._keep(due, recordings)
        return recordings

    def _fault(self, aggregate_id: UUID) -> Corrupt:
        """Why an aggregate's stored events do not replay, naming the position that fails."""
        rows = aggregate_rows(run_on_recorder(self.recorder), is_postgres(self), aggregate_id,
                              table=recorder_table(self.recorder))
        aggregate = None
        for position, version, topic, state in rows:
            stored = StoredEvent(originator_id=aggregate_id, originator_version=version, topic=topic,
                                 state=bytes(state))
            try:
                aggregate = advance(aggregate, self.decode(stored, position), position)
            except Corrupt as e:
                return e
        return Corrupt(f"the stored events of aggregate {aggregate_id} do not replay; the stored "
                       "history was altered (see grants verify)")

    # ------------------------------------------------------------------ reading the log

    def read(self, stop: int | None = None, batch: int = 5000, start: int = 1,
             topics: tuple[str, ...] = ()) -> Iterator[tuple[Any, Any]]:
        """Every stored event in recording order, as (notification, domain event).

        ``start`` is the first position to include, ``stop`` the last (None: everything);
        ``topics``, when given, keeps only events with those topics.
        """
        while True:
            notifications = self.recorder.select_notifications(
                start=start, limit=batch, stop=stop, topics=topics)
            for notification in notifications:
                yield notification, self.decode(notification, notification.id)
            if len(notifications) < batch:
                return
            start = notifications[-1].id + 1

    def decode(self, stored: Any, position: int) -> Any:
        """A stored event as a domain event; one that cannot be read back is Corrupt."""
        return decoded(self.mapper, stored, position)

    def last_position(self) -> int:
        return self.recorder.max_notification_id() or 0


def open_store(cls: type[L], target: str, must_exist: bool = False) -> L:
    """Open the ledger at an SQLite path or PostgreSQL URL.

    Nothing is written to a store before it is known to be a ledger (see
    :func:`ledger.stores.claim_store`): an existing file or schema that is not one is
    refused (Malformed) and left exactly as it was. With ``must_exist``, a store that
    holds no ledger yet is an error rather than a new, empty ledger (queries never create
    one). Opening races with another process that is creating the tables are retried like
    a write (see :func:`retried`).
    """
    return open_claimed(cls, claim_store(target, must_exist))


def open_claimed(cls: type[L], claimed: Claimed) -> L:
    """The ledger of a store already checked (and an SQLite file claimed) by
    :func:`ledger.stores.claim_store`; the claim is let go if it cannot be opened."""
    env = dict(claimed.env)
    if claimed.facts is not None and claimed.facts.has_events:  # a role that may not create tables can still use them
        env["CREATE_TABLE"] = "no"
    attempt = 0
    deadline = time.monotonic() + cls.retry_budget
    try:
        while True:
            try:
                ledger = cls(env=env)
                ledger._claim = claimed.claim
                ledger.server = claimed.facts
                return ledger
            except PersistenceError as e:
                pause = backoff(attempt, cls.retry_base, cls.retry_cap)
                attempt += 1
                if not is_contention(e) or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
    except BaseException:
        claimed.release()
        raise
