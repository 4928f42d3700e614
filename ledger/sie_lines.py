"""The lines of an SIE 4 file: bytes to text, text to fields, and the #KSUMMA checksum.

:func:`ledger.sie.read_sie` builds records on top of this module; nothing here knows
what a record means. Everything streams: one line is held at a time, except for the
bounded look-ahead that ``encoding="auto"`` uses (see :func:`decoded_lines`).

Syntax (SIE filformat utgåva 4B, 2008-09-30, sections 5.3-5.8): one record a line,
ended by LF with an optional CR before it; ``#LABEL field field …``; fields separated by
one or more spaces or tabs; any field may be double-quoted and must be when it holds a
space; ``\\"`` inside a field is a quote; ``{…}`` is an object list; a ``{`` or ``}``
alone on its line opens or closes a voucher's rows; blank lines are ignored; control
characters (ASCII 0-31 and 127, tab aside) may not occur. Amounts have a ``.`` decimal
point, at most two decimals, an optional minus and no thousands separator (5.9); dates
are ``YYYYMMDD`` (5.10). The last section turns fields into such values.
"""

from __future__ import annotations

import datetime
import re
import zlib
from collections.abc import Iterable, Iterator

from ledger.errors import Malformed
from ledger.values import Amount, plural

ENCODINGS = ("auto", "cp437", "utf-8", "latin-1")
LOOKAHEAD = 64 * 1024
_BOM = b"\xef\xbb\xbf"
_DOS_EOF = "\x1a"  # Ctrl-Z, which old DOS programs put after the last line
_AMOUNT_RE = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,2})?")
_DATE_RE = re.compile(r"[0-9]{8}")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # control characters other than tab
# one token after any spaces: outside an object list a '{', a quoted field (a backslash
# before a quote escapes it) or a bare one; inside a list a '}', a quoted or a bare one
_QUOTED = r'"((?:[^"\\]|\\"|\\(?!"))*)"'
_TOP = re.compile(r'[ \t]*(?:(\{)|' + _QUOTED + r'|([^ \t]+))')
_IN_LIST = re.compile(r'[ \t]*(?:(\})|' + _QUOTED + r'|([^ \t}]+))')

Field = str | tuple[str, ...]  # a plain field, or the tokens of an object list {…}
Objects = tuple[tuple[int, str], ...]  # (dimension number, object number) pairs, in file order


def decoded_lines(lines: Iterable[bytes], encoding: str = "auto") -> Iterator[tuple[int, str, str]]:
    """``(line number, text without its line ending, encoding read with)`` for each raw
    line, in order (the encoding is ``ascii`` for plain-ASCII lines before ``auto`` chose).

    ``encoding`` is ``cp437`` (the SIE default, ``#FORMAT PC8``), ``utf-8``, ``latin-1``
    or ``auto``. ``auto`` takes a UTF-8 byte order mark to mean UTF-8. Otherwise lines
    of plain ASCII read the same in all three and pass straight through; from the first
    line with another byte, up to 64 KiB of lines are held back and judged together:
    valid UTF-8 means UTF-8, anything else cp437. A later line of a file judged UTF-8
    that is not UTF-8 is a Malformed error naming that line, never silently misread.
    """
    if isinstance(lines, (bytes, bytearray, str)):
        raise TypeError("decoded_lines takes an iterable of byte lines (e.g. an open binary file)")
    if encoding not in ENCODINGS:
        raise Malformed(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    chosen = None if encoding == "auto" else encoding
    held: list[tuple[int, bytes]] = []
    size = 0
    for number, raw in enumerate(lines, 1):
        if not isinstance(raw, (bytes, bytearray)):
            raise TypeError(f"line {number} is {type(raw).__name__}, not bytes: open the file in binary mode")
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
            chosen = chosen or "utf-8"
        if chosen is None and not held and raw.isascii():
            yield number, _text(raw, "ascii", number), "ascii"
            continue
        if chosen is not None:
            yield number, _text(raw, chosen, number, judged=encoding == "auto"), chosen
            continue
        held.append((number, raw))
        size += len(raw)
        if size >= LOOKAHEAD:
            chosen = _judge(held)
            yield from ((n, _text(r, chosen, n), chosen) for n, r in held)
            held = []
    if held:
        chosen = _judge(held)
        yield from ((n, _text(r, chosen, n), chosen) for n, r in held)


def _judge(held: list[tuple[int, bytes]]) -> str:
    """utf-8 when the held lines (whole lines, so no sequence is cut) are valid UTF-8, else cp437."""
    try:
        b"".join(raw for _, raw in held).decode("utf-8")
    except UnicodeDecodeError:
        return "cp437"
    return "utf-8"


def _text(raw: bytes, encoding: str, number: int, judged: bool = False) -> str:
    """One raw line as text, its LF or CRLF ending removed; Malformed naming the line."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        return bytes(raw).decode(encoding)
    except UnicodeDecodeError as e:
        why = " (the encoding auto judged the file to be)" if judged else ""
        raise Malformed(
            f"line {number}: byte 0x{raw[e.start]:02X} (byte {e.start + 1} of the line) is not "
            f"{encoding}{why}; give the encoding (cp437, utf-8 or latin-1)"
        ) from None


def split_fields(text: str, number: int) -> list[Field]:
    """The fields of one record line: strings, and tuples for ``{…}`` object lists.

    Quotes around a field are removed and ``\\"`` becomes ``"``; an empty ``""`` is the
    empty string. Malformed (naming the line) for an unterminated quote, a ``{`` without
    its ``}``, and a control character.
    """
    bad = _CONTROL.search(text)
    if bad:
        raise Malformed(f"line {number}: control character U+{ord(bad.group()):04X} at column {bad.start() + 1}")
    if '"' not in text and "{" not in text:  # the common plain line, fast
        return [f for f in text.replace("\t", " ").split(" ") if f]
    fields: list[Field] = []
    tokens: list[str] | None = None  # while inside an object list
    i, opened = 0, 0
    while True:
        m = (_TOP if tokens is None else _IN_LIST).match(text, i)
        if m is None:  # nothing but spaces and tabs left
            break
        brace, quoted, bare = m.groups()
        if quoted is not None:
            token: str | None = quoted.replace('\\"', '"')
        elif bare is not None:
            if bare.startswith('"'):
                raise Malformed(f"line {number}: the quote at column {m.start(3) + 1} is never closed")
            token = bare
        else:
            token = None
        i = m.end()
        if tokens is not None:
            if token is None:
                fields.append(tuple(tokens))
                tokens = None
            else:
                tokens.append(token)
        elif token is None:
            tokens, opened = [], m.start(1)
        else:
            fields.append(token)
    if tokens is not None:
        raise Malformed(f"line {number}: object list '{{' at column {opened + 1} has no '}}'")
    return fields


def is_blank(text: str) -> bool:
    """A line the reader ignores: empty, only spaces and tabs, or a DOS end-of-file mark."""
    return not text.strip(" \t" + _DOS_EOF)


class Checksum:
    """The running CRC-32 of a #KSUMMA section (SIE 4B section 10; see ``ledger.sie``).

    ``add`` takes one record's fields; the bytes summed are the label and the contents of
    its fields and object-list tokens, in order, with nothing between them: no spaces or
    tabs, no enclosing quotes, no braces, an escaped quote as the quote alone. The spec
    (10.14) sums each character's cp437 value. For a file read as UTF-8 or latin-1 the
    same characters are also summed as bytes of that encoding, and :meth:`matches` accepts
    either, since writers of such files are known to differ on this point.
    """

    def __init__(self) -> None:
        # zlib.crc32 is the spec's algorithm: polynomial EDB88320, preset FFFFFFFF, result
        # inverted (SIE 4B 10.11-10.13); a test checks it against the spec's own C code.
        self.spec: int | None = 0
        self.own = 0

    def add(self, fields: list[Field], encoding: str = "cp437") -> None:
        """Sum one record (its label first), read from the file in ``encoding``."""
        text = "".join(f if f.__class__ is str else "".join(f) for f in fields)
        if encoding in ("ascii", "cp437") and self.spec is not None and self.spec == self.own:
            data = text.encode("cp437")  # the same bytes either way: sum them once
            self.spec = self.own = zlib.crc32(data, self.spec)
            return
        if self.spec is not None:
            try:
                self.spec = zlib.crc32(text.encode("cp437"), self.spec)
            except UnicodeEncodeError:
                self.spec = None  # a character cp437 lacks: only the file's own bytes can match
        self.own = zlib.crc32(text.encode(encoding), self.own)

    def matches(self, declared: int) -> bool:
        """Whether the declared checksum (read as unsigned or signed 32 bits) is this sum."""
        value = declared % 2**32
        return value in (self.spec, self.own)

    @property
    def value(self) -> int | None:
        """The checksum by the spec's rule (cp437 values), None when a character has none."""
        return self.spec


def checksum(records: Iterable[str]) -> int:
    """The #KSUMMA value for record lines (text, as they would stand in the file), by the
    spec's rule; used to write test files. The ``{`` and ``}`` lines may be included."""
    crc = Checksum()
    for number, text in enumerate(records, 1):
        if is_blank(text) or text.strip() in ("{", "}"):
            continue
        crc.add(split_fields(text, number))
    if crc.value is None:
        raise Malformed("a record holds a character that code page 437 lacks")
    return crc.value


# --------------------------------------------------------------------------- fields to values


def need(fields: list, count: int, names: str, number: int) -> None:
    """Malformed unless the record (label first) has at least ``count`` fields."""
    if len(fields) < count:
        raise Malformed(f"line {number}: {fields[0]} needs {names}; it has {plural(len(fields) - 1, 'field')}")


def show(field: Field) -> str:
    """A field as a message shows it: quoted text, or an object list in braces."""
    return repr(field) if isinstance(field, str) else "{" + " ".join(field) + "}"


def text_field(field: Field, what: str, number: int) -> str:
    """A plain field (Malformed for an object list where a field belongs)."""
    if not isinstance(field, str):
        raise Malformed(f"line {number}: {what} is an object list {show(field)}, not a field")
    return field


def int_field(field: Field, what: str, number: int) -> int:
    """A whole number such as a fiscal-year index (-1) or a dimension number."""
    text = text_field(field, what, number)
    if not re.fullmatch(r"-?[0-9]{1,9}", text):
        raise Malformed(f"line {number}: {what} {text!r} is not a whole number")
    return int(text)


def account_field(field: Field, number: int, label: str) -> str:
    """A non-empty account number, kept as text."""
    text = text_field(field, "kontonr", number)
    if not text:
        raise Malformed(f"line {number}: {label} has an empty account number")
    return text


def amount_field(field: Field, number: int, label: str) -> Amount:
    """An amount with '.' as decimal point and at most two decimals, as exact öre."""
    text = text_field(field, "belopp", number)
    if not _AMOUNT_RE.fullmatch(text):
        raise Malformed(
            f"line {number}: {label} amount {text!r} is not an amount with a '.' decimal point "
            "(e.g. -1250.50; at most two decimals, no thousands separator)"
        )
    whole, _, frac = text.lstrip("-").partition(".")
    ore = int(whole) * 100 + int(frac.ljust(2, "0"))
    return Amount(-ore if text.startswith("-") else ore)


def date_field(field: Field, what: str, number: int, optional: bool = False) -> datetime.date | None:
    """A date YYYYMMDD; with ``optional`` an empty field is None."""
    text = text_field(field, what, number)
    if optional and not text:
        return None
    if not _DATE_RE.fullmatch(text):
        raise Malformed(f"line {number}: {what} {text!r} is not a date YYYYMMDD")
    try:
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as e:
        raise Malformed(f"line {number}: {what} {text!r} is not a real date ({e})") from None


def objects_field(field: Field, number: int, label: str) -> Objects:
    """An object list ``{dim obj dim obj …}`` as (dimension, object) pairs."""
    if isinstance(field, str):
        raise Malformed(f"line {number}: {label} needs an object list {{…}} (may be {{}}), not {field!r}")
    if len(field) % 2:
        raise Malformed(f"line {number}: {label} object list {show(field)} is not pairs of dimension and object")
    pairs = []
    for dim, obj in zip(field[::2], field[1::2]):
        pairs.append((int_field(dim, "dimensionsnr", number), obj))
    return tuple(pairs)
