"""Re-check a history event by event: what `import` and `verify` rely on.

Each event is replayed through the guard method of the aggregate that recorded it
(``allocate``, ``set_commitment``, ``spend``...), on the state built from the events
before it, so every rule is checked again by the code that owns it; the event the
guard produces must equal the stored one (its recording time apart). Cross-aggregate
conditions the application checks (the decider's authority, a closed year for a
booking, a commitment matching its decision) are checked too, and at the end every
region-year must reconcile. Versions must run 1, 2, 3... per aggregate, and every
sealed report's digest must be one the history actually passed through.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterable
from typing import Any

from ledger.region_year import RegionYear
from ledger.voucher import Voucher
from ledger.errors import Corrupt, LedgerError
from ledger.events import kind_of
from projections.audit import Digest, reconcile
from projections.fold import Entry, LedgerView
from projections.rechecks import CREATIONS, RECHECKS, HistoryError  # HistoryError: verify's error too

_UNCOMPARED = {"timestamp"}


def _fields(event: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(event).items() if k not in _UNCOMPARED}


class DigestLog:
    """The digest chain's value after each event, 32 bytes apiece (a set of their texts would
    take five times the memory at a million events): which values a history passed through."""

    def __init__(self, genesis: str) -> None:
        self.genesis = genesis
        self.positions = array("q")
        self.values = bytearray()

    def add(self, position: int, value: str) -> None:
        self.positions.append(position)
        self.values += bytes.fromhex(value[7:])

    def at(self, position: int) -> str:
        """The chain's value after the events up to ``position``."""
        count = bisect.bisect_right(self.positions, position)
        return "sha256:" + self.values[32 * count - 32:32 * count].hex() if count else self.genesis

    def holds(self, value: str, position: int) -> bool:
        """Whether the chain passed through ``value``; looked for first at ``position`` (where a
        sealed report says it stood), then anywhere."""
        if value == self.genesis:
            return True
        if not value.startswith("sha256:") or len(value) != 71:
            return False
        try:
            raw = bytes.fromhex(value[7:])
        except ValueError:
            return False
        if self.at(position) == value:
            return True
        found = self.values.find(raw)
        while found != -1 and found % 32:
            found = self.values.find(raw, found + 1)
        return found != -1


class _Registered:
    """What the rules need of a voucher index once registered (it never has a second event)."""

    __slots__ = ()
    version = 1
    Event = Voucher.Event


_REGISTERED = _Registered()


class Checker:
    """Replays a history one event at a time, re-checking every rule as it goes.

    ``keep_entries`` keeps every entry in ``view.entries`` and every aggregate whole in
    ``view.by_id`` (for callers that list or query them); import passes False, so memory
    holds only what the rules need: no entry, and a voucher index only as registered.
    """

    def __init__(self, contiguous: bool = False, keep_entries: bool = True) -> None:
        self.contiguous = contiguous  # positions must run 1, 2, 3... (SQLite numbers without gaps)
        self.view = LedgerView()
        self.digest = Digest()
        self.passed_through = DigestLog(self.digest.value)
        self.last_position = 0
        self.view.entries = [] if keep_entries else None

    @property
    def view_entries(self) -> list[Entry]:
        return self.view.entries or []

    def check(self, entry: Entry) -> None:
        try:
            self._check(entry)
        except (HistoryError, LedgerError) as e:
            kind = kind_of(entry.event)
            raise HistoryError(f"position {entry.position} ({kind}): {e}") from None

    def _check(self, entry: Entry) -> None:
        event = entry.event
        if entry.position <= self.last_position:
            raise HistoryError(f"out of order after position {self.last_position}")
        if self.contiguous and entry.position != self.last_position + 1:
            raise HistoryError(f"positions {self.last_position + 1}-{entry.position - 1} are missing")
        before = self.view.by_id.get(event.originator_id)
        expected = before.version + 1 if before is not None else 1
        if event.originator_version != expected:
            raise HistoryError(
                f"is version {event.originator_version} of its aggregate, expected {expected}: "
                "an event is missing or out of order")
        if before is None and not isinstance(event, CREATIONS):
            raise HistoryError("belongs to an aggregate that has no creation event before it")
        if before is not None and not isinstance(event, type(before).Event):
            raise HistoryError(f"belongs to an aggregate of another kind ({type(before).__name__})")
        if isinstance(event, (RegionYear.ReportFiled, RegionYear.ReportFiledWithContent)) and event.digest and \
                not self.passed_through.holds(event.digest, event.position):
            raise HistoryError("its sealed digest is not one this history passed through: "
                               "an earlier event was altered, removed or reordered")
        aggregate = RECHECKS[type(event)](self.view, before, event)
        produced = aggregate.collect_events()
        if len(produced) != 1 or type(produced[0]) is not type(event) \
                or _fields(produced[0]) != _fields(event):
            raise HistoryError("does not follow from the history before it (a repeat, or altered content)")
        self.view.adopt(entry, aggregate)
        if self.view.entries is None and isinstance(event, Voucher.Registered):
            self.view.by_id[event.originator_id] = _REGISTERED
        self.last_position = entry.position
        self.passed_through.add(entry.position, self.digest.add(entry))

    def finish(self) -> LedgerView:
        """The final reconciliation of every region-year."""
        for grant_id in self.view.grants:
            years = sorted({ry.year for ry in self.view.years_of(grant_id)})
            for year in years:
                failing = [c for c in reconcile(self.view, grant_id, year, None) if not c["holds"]]
                if failing:
                    raise HistoryError(f"{grant_id} {year} does not reconcile: {failing[0]['check']} "
                                       f"({failing[0]['detail']})")
        return self.view


def check_history(entries: Iterable[Entry], progress: Callable[[Entry], None] | None = None) -> Checker:
    checker = Checker()
    for entry in entries:
        checker.check(entry)
        if progress:
            progress(entry)
    checker.finish()
    return checker


# --------------------------------------------------------------------------- verifying a store


def verify_store(app: Any, models: Any, contiguous: bool, witness: tuple[int | None, str] | None = None,
                 progress: Callable[[int], None] | None = None) -> list[str]:
    """Re-check a store's whole history; raises HistoryError naming the first failure.

    Beyond the re-check of every event, the stored events must still hash to the digests
    the read models computed as they applied them, and, given a ``witness`` (position,
    digest) printed earlier, the history up to that position must hash to that digest.
    Returns the lines that say what was proved.
    """
    checker = Checker(contiguous=contiguous, keep_entries=False)
    witnessed = models.witnessed()
    at, expected = witness if witness is not None else (None, None)
    witness_seen = False
    for notification, event in app.read():
        if at is not None and notification.id > at and not witness_seen:
            _witness(checker, at, expected)
            witness_seen = True
        checker.check(Entry(notification.id, event, notification.state))
        seen = witnessed.pop(notification.id, None)
        if seen is not None and seen != checker.digest.value:
            raise HistoryError(
                f"position {notification.id}: the stored events up to here are not those the "
                f"read models applied (digest {seen} then, {checker.digest.value} now); they "
                "were changed after they were recorded")
        if progress:
            progress(1)
    checker.finish()
    if witnessed:
        raise HistoryError(f"position {max(witnessed)}: the read models applied events up to here, "
                           f"but the store holds {checker.digest.count}; events were removed")
    from projections.crosscheck import Differs, compare

    try:
        rows = compare(models, app)
    except Differs as e:
        raise HistoryError(f"the read models: {e} (the read models were altered; grants rebuild makes "
                           "them anew from the events)") from None
    lines = [f"verified {checker.digest.count} events: the history holds; digest {checker.digest.value}",
             f"verified the read models: {rows} rows, each what the events give"]
    if hasattr(app, "check_snapshots"):
        try:
            kept = app.check_snapshots()
        except Corrupt as e:
            raise HistoryError(f"the snapshots: {e}") from None
        if kept:
            lines.append(f"verified {kept} snapshots: each what its aggregate's events give")
    if expected is not None and not witness_seen:
        if at is not None and checker.last_position < at:
            raise HistoryError(f"position {at}: the witnessed history reaches position {at}, but the "
                               f"store ends at position {checker.last_position}; events were removed")
        _witness(checker, checker.last_position, expected)
    if expected is not None:
        lines.append(f"witness: the history up to position {at or checker.last_position} is exactly "
                     f"the one with digest {expected}")
    return lines


def _witness(checker: Checker, at: int, expected: str) -> None:
    if checker.digest.value != expected:
        raise HistoryError(f"position {at}: the history up to here is not the witnessed one "
                           f"(digest {expected} witnessed, {checker.digest.value} now); an event "
                           "at or before it was altered, added or removed")
