"""Bringing the read models up to date: batches of events applied with the aggregates'
code, a helper process for long catch-ups, the tracking digest checked and kept."""

from __future__ import annotations


import os
import uuid
from collections.abc import Callable

from typing import TYPE_CHECKING

from ledger.errors import Corrupt
from ledger.library import last_position
from projections.digest import GENESIS, Digest
from projections.persisted.cells import _head
from projections.persisted.schema import HELP_FROM, NAME, TABLES, _HelperGone
from ledger.library import stamp_of
from projections.persisted.store import StoredRows

if TYPE_CHECKING:  # annotations only: a catch-up with nothing new decodes nothing, imports no aggregate
    from ledger.application import GrantLedger
    from projections.persisted.helper import _Helper


class CatchUp(StoredRows):
    """Catch-up and rebuild (mixed into ReadModels)."""

    def catch_up(self, app: GrantLedger, batch: int = 5000,
                 progress: Callable[[int], None] | None = None, helper: bool | None = None,
                 stop: int | None = None) -> int:
        """Apply every event after the tracked position; returns how many positions it moved.

        ``stop`` is the last position to apply (None: all).
        A long catch-up (``HELP_FROM`` events or more, on a machine with two cores or more)
        shares the decisions' events with a helper process; ``helper`` True or False forces it.
        The helper is started the ``spawn`` way, so a script that calls this must guard its
        entry point with ``if __name__ == "__main__":`` (the ``grants`` command does).
        """
        if helper is None:
            helper = (self.aside is None and self.writable and (os.cpu_count() or 1) > 1
                      and self.last_stored() - self.position() >= HELP_FROM)
        assistant = None
        if helper:
            from projections.persisted.helper import _Helper

            assistant = _Helper(self)
        moved = 0
        try:
            while True:
                try:
                    done = self._apply_batch(app, batch, assistant, stop)
                except _HelperGone:  # the batch was rolled back: go on alone
                    assistant.close()
                    assistant = None
                    continue
                moved += done
                if progress and done:
                    progress(done)
                if not done:
                    return moved
        except BaseException:
            if assistant is not None:
                assistant.process.terminate()
            raise
        finally:
            if assistant is not None:
                assistant.close()

    def rebuild(self, app: GrantLedger, progress: Callable[[int], None] | None = None,
                helper: bool | None = None, batch: int = 20000) -> int:
        """Clear every read model and rebuild it from position 0."""
        self._begin()
        try:
            for table in TABLES[1:]:
                self._run(f"DELETE FROM {table}")
            self._run("UPDATE grants_rm_tracking SET position = 0, digest = ?, latest = NULL, head = NULL "
                      "WHERE name = ?", (GENESIS, NAME))
            self._commit()
        except Exception:
            self._rollback()
            raise
        return self.catch_up(app, batch=batch, progress=progress, helper=helper)

    def _apply_batch(self, app: GrantLedger, batch: int, helper: _Helper | None = None,
                     stop: int | None = None) -> int:
        """One transaction: lock the position, apply up to ``batch`` events, store rows and position.

        Every event is hashed into the running digest (from its stored bytes, without
        decoding it); a checkpoint of the digest is kept every ``CHECKPOINT`` positions.
        The voucher index's events feed no read model and are not decoded.
        Returns how many positions it moved forward (0 when there was nothing new).
        """
        self._begin()
        try:
            lock = " FOR UPDATE" if self.postgres and self.writable else ""
            start, value, latest, head = self._run(
                f"SELECT position, digest, latest, head FROM grants_rm_tracking WHERE name = ?{lock}",
                (NAME,)).fetchone()
            start = int(start)
            self._check_head(start, head)
            rows = self._stored(start + 1, batch, stop=stop)
            if not rows or not self.writable:
                # a read-only role answers as of the position the read models hold (the
                # session makes sure they were current when the query began)
                self._rollback()
                return 0
            from eventsourcing.persistence import StoredEvent  # events to apply: the aggregates' code

            from ledger.events import CATALOGUE
            from projections.persisted.batch import _Batch, _merge, _write
            from projections.persisted.helper import _mine

            digest = Digest()
            digest.value = value
            if helper is not None:
                helper.ask(start + 1, rows[-1][0])
            helped = helper is not None
            work = _Batch(self, {r[1] for r in rows if _mine(r[3], r[1], helped)})
            checkpoints = []
            for position, originator_id, version, topic, state in rows:
                if topic not in CATALOGUE:
                    app.decode(StoredEvent(originator_id=uuid.UUID(bytes=originator_id),
                                           originator_version=version, topic=topic, state=state), position)
                digest.add_stored(topic, originator_id, version, state)
                stamp = stamp_of(state, position)  # UTC ISO strings, which sort as the times do
                if _mine(topic, originator_id, helped):
                    work.apply_stored(app, position, originator_id, version, topic, state, stamp)
                latest = stamp if latest is None or stamp > latest else latest
                if position % self.checkpoint == 0:
                    checkpoints.append((position, digest.value, latest))
            changed = work.rows()
            if helper is not None:
                _merge(changed, helper.answer())
            _write(self, changed)
            self._many("INSERT INTO grants_rm_checkpoints (position, digest, latest) VALUES (?, ?, ?)",
                       checkpoints)
            reached = rows[-1][0]
            self._run("UPDATE grants_rm_tracking SET position = ?, digest = ?, latest = ?, head = ? "
                      "WHERE name = ?", (reached, digest.value, latest, _head(rows[-1]), NAME))
            self._commit()
            return reached - start
        except Exception:
            self._rollback()
            raise

    def last_stored(self) -> int:
        """The log's last position (read from the ledger's event table, as the library's
        recorder would tell it)."""
        return last_position(self._run_events, self.source_postgres)

    def _check_head(self, position: int, head: str | None) -> None:
        """The store must still hold, unchanged, the last event the read models applied."""
        if not position:
            return
        rows = self._stored(position, 1, stop=position)
        if not rows or _head(rows[0]) != head:
            what = "no longer holds it" if not rows else "holds another event there"
            raise Corrupt(f"the read models applied an event at position {position}, but the store {what}: "
                          "the store or the read models were altered (grants verify tells which; once the "
                          "store is right, grants rebuild makes the read models anew)")
