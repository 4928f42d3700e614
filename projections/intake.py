"""Reading `grants export` files: every field of every line type-checked, then imported.

A file to import is untrusted data. Each line must be exactly what `grants export`
writes for an event: a JSON object with the export's keys, whose ``data`` holds exactly
the fields of its event class, each in the form ``ledger/fields.py`` gives its declared
type and its name (the fields are read from the event classes in ``ledger/``, and what
each holds from the one table the check of every stored event reads too, so a new field
is checked without a second list): text free of NUL characters and lone surrogates,
whole numbers within the range of an amount, ISO dates and times, and ids, regions,
years and codes in the forms the ledger's own commands accept. Anything else is
:class:`Malformed` with the line number, before anything is written. The line must also
be written byte for byte as export writes it, so what import accepts, export gives back
identically.

:func:`import_history` streams a file into an empty ledger: each event is checked
against every rule on the history before it (:class:`projections.verify.Checker`) and
written in batches inside one transaction (:func:`ledger.library.load_into_empty_store`),
committed only after the last line passed and every year reconciles. Memory holds the
aggregates the rules need, never the lines or the events.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ledger.errors import Malformed
from ledger.events import CATALOGUE, CREATES, TOPIC_KINDS
from ledger.fields import Off, fields_of, plain, whole
from ledger.library import is_postgres, load_into_empty_store
from ledger.voucher import Voucher
from projections.fold import Entry
from projections.verify import Checker, HistoryError

LINE_LIMIT = 16 * 1024 * 1024  # bytes in one line; a longer one is refused before it is read whole
BATCH = 5000  # events written at a time, all inside one transaction

RECORD_KEYS = ("position", "recorded_at", "recorded_by", "type", "topic", "originator_id",
               "originator_version", "originator_topic", "data")

# --------------------------------------------------------------------------- events


@dataclasses.dataclass(frozen=True)
class EventSpec:
    """What one event class holds: its data fields in order, each with its check."""

    cls: type
    kind: str
    fields: dict[str, Callable[[Any], Any]]
    aggregate_topic: str | None  # the originator_topic of a creation event, else None


def _spec(topic: str) -> EventSpec:
    cls = CATALOGUE[topic]  # the ledger's own classes, never a topic resolved from a file
    fields = {field.name: field.check for field in fields_of(cls)}  # as ledger/fields.py says
    return EventSpec(cls, TOPIC_KINDS[topic], fields, CREATES.get(cls))


SPECS: dict[str, EventSpec] = {topic: _spec(topic) for topic in TOPIC_KINDS}


# --------------------------------------------------------------------------- lines


def _no_constant(name: str) -> Any:
    raise Off(f"holds {name}, which is not a JSON number")


def _no_float(literal: str) -> Any:
    raise Off(f"holds the number {literal[:30]}, but every number of an event is a whole number")


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_no_float)
_ENCODER = json.JSONEncoder(ensure_ascii=False)  # as export_line writes (json.dumps' defaults)


def _off(where: str, error: Off, value: Any) -> Off:
    shown = repr(value)
    return Off(f"{where} {error} (not {shown[:40]}{'…' if len(shown) > 40 else ''})")


def _field(where: str, check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except Off as e:
        raise _off(where, e, value) from None


def parse_record(raw: bytes) -> Entry:
    """One line (with its newline) as an entry; anything off raises Off saying what."""
    if not raw.endswith(b"\n"):
        raise Off("does not end with a newline (the file may be cut short)")
    try:
        line = raw[:-1].decode("utf-8")
    except UnicodeDecodeError as e:
        raise Off(f"is not UTF-8 text (byte {e.start + 1})") from None
    if not line.strip():
        raise Off("is empty")
    try:
        record = _DECODER.decode(line)
    except RecursionError:
        raise Off("is nested too deeply to be an event") from None
    except ValueError as e:
        raise Off(f"is not JSON ({str(e)[:80]})") from None
    if type(record) is not dict:
        raise Off("is not a JSON object")
    if tuple(record) != RECORD_KEYS:
        missing = [k for k in RECORD_KEYS if k not in record]
        extra = [k for k in record if k not in RECORD_KEYS]
        said = "; ".join(filter(None, [missing and f"lacks {', '.join(missing)}",
                                      extra and f"has unknown keys {', '.join(map(repr, extra))[:80]}"]))
        raise Off(f"is not an event as `grants export` writes it ({said or 'its keys are out of order'})")
    topic = record["topic"]
    spec = SPECS.get(topic) if type(topic) is str else None
    if spec is None:
        raise Off(f"has an unknown event topic {str(topic)[:60]!r}")
    if record["type"] != spec.kind:
        raise Off(f"its type {str(record['type'])[:40]!r} contradicts its topic ({spec.kind})")
    position = _field("position", whole, record["position"])
    if position < 1:
        raise Off(f"position {position} is not a position (1, 2, 3...)")
    version = _field("originator_version", whole, record["originator_version"])
    if version < 1:
        raise Off(f"originator_version {version} is not a version (1, 2, 3...)")
    originator_id = record["originator_id"]
    try:
        if type(originator_id) is not str:
            raise ValueError
        uid = uuid.UUID(originator_id)
        if str(uid) != originator_id:
            raise ValueError
    except ValueError:
        raise Off(f"originator_id {str(originator_id)[:50]!r} is not a UUID as export writes it") from None
    recorded_at = record["recorded_at"]
    try:
        if type(recorded_at) is not str:
            raise ValueError
        stamp = datetime.datetime.fromisoformat(recorded_at)
        if stamp.utcoffset() != datetime.timedelta(0) or stamp.isoformat() != recorded_at:
            raise ValueError
    except ValueError:
        raise Off(f"recorded_at {str(recorded_at)[:40]!r} is not an ISO 8601 time in UTC (+00:00), "
                   "as the ledger records and export writes it") from None
    recorded_by = _field("recorded_by", plain, record["recorded_by"])
    if record["originator_topic"] != spec.aggregate_topic:
        raise Off(f"originator_topic {str(record['originator_topic'])[:60]!r} is not "
                   f"{spec.aggregate_topic!r} for a {spec.kind} event")
    data = record["data"]
    if type(data) is not dict:
        raise Off("data is not a JSON object")
    if list(data) != list(spec.fields):
        missing = [k for k in spec.fields if k not in data]
        extra = [k for k in data if k not in spec.fields]
        said = "; ".join(filter(None, [missing and f"lacks {', '.join(missing)}",
                                      extra and f"has unknown fields {', '.join(map(repr, extra))[:80]}"]))
        raise Off(f"data of a {spec.kind} event {said or 'has its fields out of order'}")
    values = {}
    for name, check in spec.fields.items():
        try:
            values[name] = check(data[name])
        except Off as e:
            raise _off(f"data.{name}", e, data[name]) from None
    if values["recorded_by"] != recorded_by:
        raise Off("its recorded_by contradicts its data")
    fields = {"originator_id": uid, "originator_version": version, "timestamp": stamp}
    if spec.aggregate_topic is not None:
        fields["originator_topic"] = spec.aggregate_topic
    # Every value above is in the one form export writes it in (dates, times, ids, topics),
    # so the line as export would write this event is the record as JSON writes it.
    if _ENCODER.encode(record) != line:
        raise Off("is not written as `grants export` writes it (spacing, escapes or number forms differ)")
    return Entry(position, spec.cls(**fields, **values))


def parse_line(line: str | bytes, number: int) -> Entry:
    """One line of `grants export` as an entry; anything off is Malformed naming the line."""
    raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
    if not raw.endswith(b"\n"):
        raw += b"\n"
    try:
        return parse_record(raw)
    except Off as e:
        raise Malformed(f"line {number}: {e}") from None


def lines_of(stream: Any) -> Iterator[bytes]:
    """The lines of a binary file, each with its newline; a line longer than LINE_LIMIT is refused."""
    number = 0
    while True:
        raw = stream.readline(LINE_LIMIT + 1)
        if not raw:
            return
        number += 1
        if len(raw) > LINE_LIMIT:
            raise Malformed(f"line {number} is longer than {LINE_LIMIT // (1024 * 1024)} MiB; "
                            "no event is that long")
        yield raw


def read_export(lines: Iterable[bytes]) -> Iterator[tuple[int, int, Entry]]:
    """Each line as (line number, its bytes, entry); Malformed names the first line that is off.

    An aggregate's events must not run backwards in recording time (a ledger stamps each
    event when its command makes it; events of different aggregates saved together, or by
    concurrent writers, may be stored slightly out of time order, so the order across
    aggregates is not held to it).
    """
    last_time: dict[uuid.UUID, datetime.datetime] = {}
    for number, raw in enumerate(lines, start=1):
        try:
            entry = parse_record(raw)
        except Off as e:
            raise Malformed(f"line {number}: {e}") from None
        event = entry.event
        before = last_time.get(event.originator_id)
        if before is not None and event.timestamp < before:
            raise Malformed(f"line {number}: recorded at {event.timestamp.isoformat()}, before the "
                            f"previous event of its aggregate ({before.isoformat()}); recorded times "
                            "must not run backwards")
        if not isinstance(event, Voucher.Registered):  # a voucher never has a second event
            last_time[event.originator_id] = event.timestamp
        yield number, len(raw), entry


# --------------------------------------------------------------------------- import


def import_history(app: Any, lines: Iterable[bytes], where: str,
                   progress: Callable[[int], None] | None = None, batch: int = BATCH,
                   file_sha256: str | None = None) -> Checker:
    """Import a file's lines into the empty ledger ``app``, all or nothing; returns the checker
    (its digest and count). ``progress`` is told the bytes of each line read.

    On PostgreSQL set up by ``grants db init``, who imported, when, the file's SHA-256
    and the history's digest are recorded in ``grants_imports`` in the same transaction.

    Malformed names the line of the first event that is off or breaks a rule (or the year
    that does not reconcile); Refused when the ledger holds events. Either way, and on any
    other error or the process dying, nothing is written.
    """
    postgres = is_postgres(app)
    # SQLite numbers events without gaps: there the file's positions must run 1, 2, 3...
    checker = Checker(contiguous=not postgres, keep_entries=False)
    to_stored = app.mapper.to_stored_event
    imported = {"file_sha256": file_sha256}
    with load_into_empty_store(app, where, imported) as write:
        stored, positions = [], []
        number = 0
        for number, size, entry in read_export(lines):
            record = to_stored(entry.event)
            entry = Entry(entry.position, entry.event, record.state)
            try:
                checker.check(entry)
            except HistoryError as e:
                raise Malformed(f"line {number}: inconsistent at {e}") from None
            event = entry.event
            if getattr(event, "digest", "") and checker.passed_through.at(event.position) != event.digest:
                raise Malformed(f"line {number}: the report's seal names position {event.position}, where "
                                "this history's digest is another")
            stored.append(record)
            positions.append(entry.position)
            if len(stored) >= batch:
                write(stored, positions)
                stored, positions = [], []
            if progress:
                progress(size)
        if stored:
            write(stored, positions)
        if not checker.digest.count:
            raise Malformed("the file holds no events")
        try:
            checker.finish()
        except HistoryError as e:
            raise Malformed(f"after its last line ({number}), the history is inconsistent: {e}") from None
        imported["digest"] = checker.digest.value
    return checker
