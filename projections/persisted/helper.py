"""The helper process a long catch-up takes: it applies the decisions' events of a batch
while the main process applies the rest."""

from __future__ import annotations


from typing import Any, TYPE_CHECKING


from ledger.application import GrantLedger

from projections.persisted.batch import _Batch
from projections.history import EVENT_TYPES
from projections.persisted.schema import _HelperGone
from ledger.library import stamp_of

if TYPE_CHECKING:  # annotations only: the package's class is made of these modules
    from projections.persisted import ReadModels


# Every event topic but the voucher index's, which serves writes only.
FEEDS = frozenset(t for t in EVENT_TYPES if not t.startswith("grants:Voucher."))
DECISION_EVENTS = "grants:Decision."
# With a helper, the helper applies the decisions whose id's first byte is odd, the caller the
# others (and everything else): measured, the two then finish a batch at about the same time,
# as the caller also hashes every event and writes the rows.


def _mine(topic: str, originator_id: bytes, helped: bool) -> bool:
    """Whether the catching-up process applies an event itself (else its helper does)."""
    return topic in FEEDS and not (helped and topic.startswith(DECISION_EVENTS) and originator_id[0] & 1)


def _helper(target: str, snapshot: int, pipe: Any) -> None:
    """A helper process: apply its share of the decisions' events of each batch it is sent.

    It reads the events and the aggregates' states (as the last committed batch left them)
    through a connection of its own, and sends back the rows; the caller writes them in
    the batch's transaction with its own share and the new position.
    """
    from projections.persisted import ReadModels  # the helper process makes its own

    models = ReadModels(target, snapshot=snapshot, create=False)
    app = GrantLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        while (request := pipe.recv()) is not None:
            start, stop = request
            try:
                share = [r for r in models._stored(start, stop - start + 1, stop=stop)
                         if r[3].startswith(DECISION_EVENTS) and r[1][0] & 1]
                work = _Batch(models, {r[1] for r in share})
                for position, originator_id, version, topic, state in share:
                    work.apply_stored(app, position, originator_id, version, topic, state,
                                      stamp_of(state, position))
                pipe.send(("rows", work.rows()))
            except Exception as e:  # sent to the caller, which raises it
                pipe.send(("error", e))
    finally:
        models.close()


class _Helper:
    """A helper process for a long catch-up (a rebuild, a first query after an import)."""

    def __init__(self, models: ReadModels) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(target=_helper, args=(models.target, models.snapshot, theirs),
                                       daemon=True)
        self.process.start()

    def ask(self, start: int, stop: int) -> None:
        try:
            self.pipe.send((start, stop))
        except OSError:
            raise _HelperGone() from None

    def answer(self) -> dict[str, Any]:
        try:
            kind, value = self.pipe.recv()
        except (EOFError, OSError):
            raise _HelperGone() from None
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        try:
            self.pipe.send(None)
            self.process.join(timeout=10)
        except OSError:
            pass
        finally:
            if self.process.is_alive():
                self.process.terminate()

