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

import mmap
import os
import sqlite3
import tempfile
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from uuid import UUID

import attrs

from ledger.decision import Decision, decision_uuid
from ledger.values import Amount
from ledger import states

from ledger.region_year import RegionYear
from ledger.voucher import Voucher
from ledger.errors import Corrupt, LedgerError
from ledger.events import kind_of
from projections.audit import Digest, reconcile
from projections.fold import Entry, LedgerView
from projections.rechecks import CREATIONS, RECHECKS, HistoryError  # HistoryError: verify's error too

_UNCOMPARED = {"timestamp"}
# the bookings a long re-check (import, verify) keeps in memory; past them, the decisions least
# recently used are written out to a scratch file (see _Spilled)
KEEP_BOOKINGS = 200_000


def _fields(event: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(event).items() if k not in _UNCOMPARED}


class DigestLog:
    """The digest chain's value after each event (which values a history passed through), kept
    in a scratch file of fixed 40-byte records (position, then the 32 bytes of the value), so a
    re-check's memory does not grow with the history; a sealed report asks it, rarely."""

    BUFFER = 1 << 20  # bytes of records kept in memory before they are written out

    def __init__(self, genesis: str) -> None:
        self.genesis = genesis
        self._file = tempfile.TemporaryFile(prefix="grants-digests-")
        self._pending = bytearray()
        self._count = 0
        self._last = 0

    def add(self, position: int, value: str) -> None:
        self._pending += position.to_bytes(8, "big") + bytes.fromhex(value[7:])
        self._count += 1
        self._last = position
        if len(self._pending) >= self.BUFFER:
            self._flush()

    def _flush(self) -> None:
        self._file.seek(0, os.SEEK_END)
        self._file.write(self._pending)
        self._pending = bytearray()
        self._file.flush()

    def _records(self) -> Any:
        self._flush()
        return mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if self._count else b""

    def at(self, position: int) -> str:
        """The chain's value after the events up to ``position``."""
        records = self._records()
        low, high = 0, self._count  # the number of records at or before the position
        while low < high:
            middle = (low + high) // 2
            if int.from_bytes(records[40 * middle:40 * middle + 8], "big") <= position:
                low = middle + 1
            else:
                high = middle
        return "sha256:" + records[40 * low - 32:40 * low].hex() if low else self.genesis

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
        records = self._records()
        found = records.find(raw)
        while found != -1 and found % 40 != 8:
            found = records.find(raw, found + 1)
        return found != -1


class _Registered:
    """What the rules need of a voucher index once registered (it never has a second event)."""

    __slots__ = ()
    version = 1
    Event = Voucher.Event


_REGISTERED = _Registered()


class _Spilled:
    """``view.by_id`` of a long re-check, whose memory stays flat: grants and region-years in
    memory; decisions in memory while their bookings fit ``keep`` (the least recently used
    written out to a scratch SQLite file as the read models' canonical JSON state, and read
    back when an event needs them); voucher indexes only as registered, in that file."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.small: dict[UUID, Any] = {}
        self.recent: OrderedDict[UUID, Decision] = OrderedDict()
        self.sizes: dict[UUID, int] = {}
        self.held = 0  # the bookings of the decisions in memory
        self.out: set[UUID] = set()  # the decisions written out (ids only)
        self.vouchers: set[bytes] = set()  # registered vouchers not yet written out
        self._scratch = tempfile.TemporaryDirectory(prefix="grants-check-")
        self.db = sqlite3.connect(os.path.join(self._scratch.name, "spill.sqlite"), isolation_level=None,
                                  check_same_thread=False)  # closed by whichever thread collects it
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("CREATE TABLE decisions (id BLOB PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID")
        self.db.execute("CREATE TABLE vouchers (id BLOB PRIMARY KEY) WITHOUT ROWID")
        weakref.finalize(self, self.db.close)

    def get(self, oid: UUID, default: Any = None) -> Any:
        found = self.small.get(oid)
        if found is not None:
            return found
        found = self.recent.get(oid)
        if found is not None:
            self.recent.move_to_end(oid)
            return found
        if oid in self.out:
            (state,) = self.db.execute("SELECT state FROM decisions WHERE id = ?", (oid.bytes,)).fetchone()
            decision = states.load(state, "Decision")
            self._keep(oid, decision)
            return decision
        key = oid.bytes
        if key in self.vouchers or self.db.execute("SELECT 1 FROM vouchers WHERE id = ?", (key,)).fetchone():
            return _REGISTERED
        return default

    def __getitem__(self, oid: UUID) -> Any:
        found = self.get(oid)
        if found is None:
            raise KeyError(oid)
        return found

    def __contains__(self, oid: UUID) -> bool:
        return self.get(oid) is not None

    def __setitem__(self, oid: UUID, aggregate: Any) -> None:
        if isinstance(aggregate, Decision):
            self._keep(oid, aggregate)
        elif isinstance(aggregate, (Voucher, _Registered)):
            self.vouchers.add(oid.bytes)
            if len(self.vouchers) >= 10_000:
                self.db.executemany("INSERT OR IGNORE INTO vouchers VALUES (?)", ((v,) for v in self.vouchers))
                self.vouchers.clear()
        else:
            self.small[oid] = aggregate

    def _keep(self, oid: UUID, decision: Decision) -> None:
        size = 1 + (len(decision._packed) if decision._bookings is None else len(decision._bookings))
        self.held += size - self.sizes.get(oid, 0)
        self.sizes[oid] = size
        self.recent[oid] = decision
        self.recent.move_to_end(oid)
        while self.held > self.keep and len(self.recent) > 1:
            old, out = self.recent.popitem(last=False)
            self.held -= self.sizes.pop(old)
            self.db.execute("INSERT OR REPLACE INTO decisions VALUES (?, ?)", (old.bytes, states.dump(out)))
            self.out.add(old)

    def decisions(self) -> Iterator[Decision]:
        """Every decision, one at a time (those written out read back, not kept)."""
        yield from list(self.recent.values())
        for key, state in self.db.execute("SELECT id, state FROM decisions"):  # no write meanwhile
            if UUID(bytes=key) not in self.recent:
                yield states.load(state, "Decision")


class _DecisionsOf:
    """``view.decisions`` of a long re-check: (grant, decision id) to the decision, through ``by_id``."""

    def __init__(self, by_id: _Spilled) -> None:
        self.by_id = by_id

    def get(self, key: tuple[str, str], default: Any = None) -> Any:
        found = self.by_id.get(decision_uuid(*key))
        return found if isinstance(found, Decision) else default

    def __contains__(self, key: tuple[str, str]) -> bool:
        return self.get(key) is not None

    def __setitem__(self, key: tuple[str, str], decision: Decision) -> None:
        return None  # held by by_id


@attrs.define
class _Sums:
    """What a reconciliation reads of a region's decisions, summed: it is linear in them."""

    grant_id: str
    region: str
    committed: dict[int, int] = attrs.Factory(dict)
    spent: dict[int, int] = attrs.Factory(dict)

    def committed_for(self, year: int) -> Amount:
        return Amount(self.committed.get(year, 0))

    def spent_for(self, year: int) -> Amount:
        return Amount(self.spent.get(year, 0))


class Checker:
    """Replays a history one event at a time, re-checking every rule as it goes.

    ``keep_entries`` keeps every entry in ``view.entries`` and every aggregate whole in
    ``view.by_id`` (for callers that list or query them); import passes False, so memory
    holds only what the rules need: no entry, and a voucher index only as registered.
    """

    def __init__(self, contiguous: bool = False, keep_entries: bool = True) -> None:
        self.contiguous = contiguous  # positions must run 1, 2, 3... (SQLite numbers without gaps)
        self.view = LedgerView()
        if not keep_entries:
            self.view.by_id = _Spilled(KEEP_BOOKINGS)
            self.view.decisions = _DecisionsOf(self.view.by_id)
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
        view = self.view
        if isinstance(view.by_id, _Spilled):  # the decisions one at a time, summed by region
            view = LedgerView(grants=self.view.grants, region_years=self.view.region_years)
            for decision in self.view.by_id.decisions():
                sums = view.decisions.setdefault((decision.grant_id, "\0" + decision.region),
                                                 _Sums(decision.grant_id, decision.region))
                for year in set(decision.years) | set(decision.years_ever):
                    sums.committed[year] = sums.committed.get(year, 0) + decision.committed_for(year).ore
                    sums.spent[year] = sums.spent.get(year, 0) + decision.spent_for(year).ore
        for grant_id in view.grants:
            years = sorted({ry.year for ry in view.years_of(grant_id)})
            for year in years:
                failing = [c for c in reconcile(view, grant_id, year, None) if not c["holds"]]
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
