"""Reading `grants export` files: every field of every line type-checked, then imported.

A file to import is untrusted data. Each line must be exactly what `grants export`
writes for an event: a JSON object with the export's keys, whose ``data`` holds exactly
the fields of its event class, each of the type the class declares (the fields and their
types are read from the event classes in ``ledger/``, so a new field is checked without
a second list), with text free of NUL characters and lone surrogates, whole numbers
within the range of an amount, ISO dates and times, and ids, regions, years and codes in
the forms the ledger's own commands accept. Anything else is :class:`Malformed` with the
line number, before anything is written. The line must also be written byte for byte as
export writes it, so what import accepts, export gives back identically.

:func:`import_history` streams a file into an empty ledger: each event is checked
against every rule on the history before it (:class:`projections.verify.Checker`) and
written in batches inside one transaction (:func:`ledger.storage.load_into_empty_store`),
committed only after the last line passed and every year reconciles. Memory holds the
aggregates the rules need, never the lines or the events.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import sys
import typing
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from eventsourcing.domain import CanInitAggregate

from ledger.voucher import Voucher
from ledger.errors import Malformed
from ledger.events import CATALOGUE
from ledger.storage import load_into_empty_store
from ledger.values import MAX_YEAR, MIN_YEAR, Region, parse_code, parse_identifier
from projections.balances import FIGURES
from projections.fold import Entry
from ledger.events import TOPIC_KINDS
from projections.verify import Checker, HistoryError

LINE_LIMIT = 16 * 1024 * 1024  # bytes in one line; a longer one is refused before it is read whole
AMOUNT_LIMIT = 10 ** 17  # every whole number: |n| below this (15 digits of kronor, in öre)
BATCH = 5000  # events written at a time, all inside one transaction

RECORD_KEYS = ("position", "recorded_at", "recorded_by", "type", "topic", "originator_id",
               "originator_version", "originator_topic", "data")

# --------------------------------------------------------------------------- values


class _Off(Exception):
    """A value is not what its field holds; the message says what it should be."""


_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def text(value: Any) -> str:
    if type(value) is not str:
        raise _Off("must be text")
    bad = _BAD_TEXT.search(value)
    if bad:
        what = "a NUL character" if bad.group() == "\x00" else "a lone surrogate (not Unicode text)"
        raise _Off(f"holds {what}")
    return value


def plain(value: Any) -> str:
    """Text on one line: no control characters (a recorder's name, an id)."""
    value = text(value)
    if _CONTROL.search(value):
        raise _Off("must be plain text without control characters")
    return value


def whole(value: Any) -> int:
    if type(value) is not int:
        raise _Off("must be a whole number")
    if not -AMOUNT_LIMIT < value < AMOUNT_LIMIT:
        raise _Off(f"is out of range (at most {len(str(AMOUNT_LIMIT)) - 1} digits)")
    return value


def flag(value: Any) -> bool | None:
    if value is not None and type(value) is not bool:
        raise _Off("must be true, false or null")
    return value


def date(value: Any) -> datetime.date:
    if type(value) is not str or not _DATE.fullmatch(value):
        raise _Off("must be a date YYYY-MM-DD")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise _Off("must be a real date YYYY-MM-DD") from None


def optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def code(value: Any) -> str:
    """A grant id, pot or purpose, as ``parse_code`` takes them (and already trimmed)."""
    try:
        if type(value) is str and parse_code(value) == value:
            return value
    except Malformed:
        pass
    raise _Off("must be a code: lower-case letters, digits, '.', '_' or '-'")


_COUNTY_CODES = frozenset(r.code for r in Region.all())


def region(value: Any) -> str:
    if type(value) is not str or value not in _COUNTY_CODES:
        raise _Off("must be a county code (01-25)")
    return value


def seal_position(value: Any) -> int:
    value = whole(value)
    if value < 0:
        raise _Off("must be a position (0 for an unsealed report)")
    return value


def year(value: Any) -> int:
    if type(value) is not int or not MIN_YEAR <= value <= MAX_YEAR:
        raise _Off(f"must be a year {MIN_YEAR}-{MAX_YEAR}")
    return value


def identifier(value: Any) -> str:
    """A decision id or voucher, as ``parse_identifier`` takes them (and already trimmed)."""
    value = plain(value)
    try:
        if parse_identifier(value, "id") == value:
            return value
    except Malformed:
        pass
    raise _Off("must be one trimmed, non-empty line of at most 200 characters")


def items(check: Callable[[Any], Any]) -> Callable[[Any], list]:
    def checked(value: Any) -> list:
        if type(value) is not list:
            raise _Off("must be a list")
        return [check(v) for v in value]
    return checked


def pairs(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], list]:
    def pair(value: Any) -> list:
        if type(value) is not list or len(value) != 2:
            raise _Off("must be a list of pairs")
        return [first(value[0]), second(value[1])]
    return items(pair)


def sealed_figures(value: Any) -> dict:
    """A report's figures: none (an unsealed report), or every balance figure, as a seal states them."""
    if type(value) is not dict:
        raise _Off("must be an object")
    if value and list(value) != list(FIGURES):
        raise _Off(f"must be empty or hold exactly {', '.join(FIGURES)}")
    return {k: whole(v) for k, v in value.items()}


# What a field's name says about its value, beyond the type its event class declares: the
# forms the commands accept (commands/params.py), so what is imported can be queried.
NAMED: dict[str, Callable[[Any], Any]] = {
    "grant_id": code, "pot": code, "purpose": code,
    "region": region,
    "year": year, "first_year": year, "last_year": year,
    "decision_id": identifier, "voucher": identifier,
    "recorded_by": plain,
    "position": seal_position,  # a report's seal: the position its figures are as of
}
# The element shapes of the events' list and dict fields (their classes say only list or dict).
SHAPES: dict[str, Callable[[Any], Any]] = {
    "purposes": pairs(code, text),
    "pots": pairs(code, whole),
    "earmarks": pairs(code, code),
    "shares": pairs(region, whole),
    "schedule": pairs(year, whole),
    "covers": items(code),
    "figures": sealed_figures,
}
_TYPES: dict[Any, Callable[[Any], Any]] = {
    int: whole, str: text, bool | None: flag,
    datetime.date: date, datetime.date | None: optional(date),
}


@dataclasses.dataclass(frozen=True)
class EventSpec:
    """What one event class holds: its data fields in order, each with its check."""

    cls: type
    kind: str
    fields: dict[str, Callable[[Any], Any]]
    aggregate_topic: str | None  # the originator_topic of a creation event, else None


def _spec(topic: str) -> EventSpec:
    cls = CATALOGUE[topic]  # the ledger's own classes, never a topic resolved from a file
    module = sys.modules[cls.__module__]
    hints = typing.get_type_hints(cls)  # the annotations of the ledger's own source code
    declared = {name: hints[name] for name in cls.__annotations__}  # the class's own fields
    fields = {}
    for f in dataclasses.fields(cls):
        if f.name not in declared:
            continue  # the library's own: id, version, timestamp, originator_topic
        kind = declared[f.name]
        if kind in (list, dict):
            check = SHAPES.get(f.name)
            if check is None:
                raise TypeError(f"{topic}: add the shape of its {kind.__name__} field {f.name!r} to SHAPES")
        else:
            check = _TYPES.get(kind)
            if check is None:
                raise TypeError(f"{topic}: field {f.name!r} has a type import cannot check: {kind}")
            check = NAMED.get(f.name, check)
        fields[f.name] = check
    aggregate = None
    if issubclass(cls, CanInitAggregate):
        aggregate = getattr(module, cls.__qualname__.split(".")[0]).TOPIC
    return EventSpec(cls, TOPIC_KINDS[topic], fields, aggregate)


SPECS: dict[str, EventSpec] = {topic: _spec(topic) for topic in TOPIC_KINDS}


# --------------------------------------------------------------------------- lines


def _no_constant(name: str) -> Any:
    raise _Off(f"holds {name}, which is not a JSON number")


def _no_float(literal: str) -> Any:
    raise _Off(f"holds the number {literal[:30]}, but every number of an event is a whole number")


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_no_float)
_ENCODER = json.JSONEncoder(ensure_ascii=False)  # as export_line writes (json.dumps' defaults)


def _off(where: str, error: _Off, value: Any) -> _Off:
    shown = repr(value)
    return _Off(f"{where} {error} (not {shown[:40]}{'…' if len(shown) > 40 else ''})")


def _field(where: str, check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except _Off as e:
        raise _off(where, e, value) from None


def parse_record(raw: bytes) -> Entry:
    """One line (with its newline) as an entry; anything off raises _Off saying what."""
    if not raw.endswith(b"\n"):
        raise _Off("does not end with a newline (the file may be cut short)")
    try:
        line = raw[:-1].decode("utf-8")
    except UnicodeDecodeError as e:
        raise _Off(f"is not UTF-8 text (byte {e.start + 1})") from None
    if not line.strip():
        raise _Off("is empty")
    try:
        record = _DECODER.decode(line)
    except RecursionError:
        raise _Off("is nested too deeply to be an event") from None
    except ValueError as e:
        raise _Off(f"is not JSON ({str(e)[:80]})") from None
    if type(record) is not dict:
        raise _Off("is not a JSON object")
    if tuple(record) != RECORD_KEYS:
        missing = [k for k in RECORD_KEYS if k not in record]
        extra = [k for k in record if k not in RECORD_KEYS]
        said = "; ".join(filter(None, [missing and f"lacks {', '.join(missing)}",
                                      extra and f"has unknown keys {', '.join(map(repr, extra))[:80]}"]))
        raise _Off(f"is not an event as `grants export` writes it ({said or 'its keys are out of order'})")
    topic = record["topic"]
    spec = SPECS.get(topic) if type(topic) is str else None
    if spec is None:
        raise _Off(f"has an unknown event topic {str(topic)[:60]!r}")
    if record["type"] != spec.kind:
        raise _Off(f"its type {str(record['type'])[:40]!r} contradicts its topic ({spec.kind})")
    position = _field("position", whole, record["position"])
    if position < 1:
        raise _Off(f"position {position} is not a position (1, 2, 3...)")
    version = _field("originator_version", whole, record["originator_version"])
    if version < 1:
        raise _Off(f"originator_version {version} is not a version (1, 2, 3...)")
    originator_id = record["originator_id"]
    try:
        if type(originator_id) is not str:
            raise ValueError
        uid = uuid.UUID(originator_id)
        if str(uid) != originator_id:
            raise ValueError
    except ValueError:
        raise _Off(f"originator_id {str(originator_id)[:50]!r} is not a UUID as export writes it") from None
    recorded_at = record["recorded_at"]
    try:
        if type(recorded_at) is not str:
            raise ValueError
        stamp = datetime.datetime.fromisoformat(recorded_at)
        if stamp.utcoffset() != datetime.timedelta(0) or stamp.isoformat() != recorded_at:
            raise ValueError
    except ValueError:
        raise _Off(f"recorded_at {str(recorded_at)[:40]!r} is not an ISO 8601 time in UTC (+00:00), "
                   "as the ledger records and export writes it") from None
    recorded_by = _field("recorded_by", plain, record["recorded_by"])
    if record["originator_topic"] != spec.aggregate_topic:
        raise _Off(f"originator_topic {str(record['originator_topic'])[:60]!r} is not "
                   f"{spec.aggregate_topic!r} for a {spec.kind} event")
    data = record["data"]
    if type(data) is not dict:
        raise _Off("data is not a JSON object")
    if list(data) != list(spec.fields):
        missing = [k for k in spec.fields if k not in data]
        extra = [k for k in data if k not in spec.fields]
        said = "; ".join(filter(None, [missing and f"lacks {', '.join(missing)}",
                                      extra and f"has unknown fields {', '.join(map(repr, extra))[:80]}"]))
        raise _Off(f"data of a {spec.kind} event {said or 'has its fields out of order'}")
    values = {}
    for name, check in spec.fields.items():
        try:
            values[name] = check(data[name])
        except _Off as e:
            raise _off(f"data.{name}", e, data[name]) from None
    if values["recorded_by"] != recorded_by:
        raise _Off("its recorded_by contradicts its data")
    fields = {"originator_id": uid, "originator_version": version, "timestamp": stamp}
    if spec.aggregate_topic is not None:
        fields["originator_topic"] = spec.aggregate_topic
    # Every value above is in the one form export writes it in (dates, times, ids, topics),
    # so the line as export would write this event is the record as JSON writes it.
    if _ENCODER.encode(record) != line:
        raise _Off("is not written as `grants export` writes it (spacing, escapes or number forms differ)")
    return Entry(position, spec.cls(**fields, **values))


def parse_line(line: str | bytes, number: int) -> Entry:
    """One line of `grants export` as an entry; anything off is Malformed naming the line."""
    raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
    if not raw.endswith(b"\n"):
        raw += b"\n"
    try:
        return parse_record(raw)
    except _Off as e:
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
        except _Off as e:
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
    postgres = "postgres" in type(app.recorder).__module__
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
