"""The project's own SIE 4 reader: the records of an SIE 4 file (``.SE``, ``.SI``) in file order.

``read_sie(lines, encoding="auto")`` takes raw byte lines (an open binary file will do)
and yields frozen values as it goes: :class:`FiscalYear` (#RAR), :class:`Dimension`
(#DIM), :class:`ObjectDef` (#OBJEKT), :class:`Account` (#KONTO), :class:`ObjectBalance`
(#OUB), :class:`PeriodBalance` (#PSALDO) and :class:`Voucher` (#VER with its rows).
Other records are skipped. It streams: it holds one voucher at a time and never the
file, so a 200 MB export reads in little memory. Decoding and the field syntax are in
:mod:`ledger.sie_lines`. It opens no file and imports nothing into the ledger.

Rows. Each row of a voucher (:class:`Row`) has its 1-based ``place`` among the voucher's
row records #TRANS, #RTRANS and #BTRANS; the #TRANS that directly follows an #RTRANS
with identical fields is the echo the spec requires for old readers (SIE 4B, #RTRANS
note 4 and 6): it is not a row and takes no place. A struck row (#BTRANS) takes a
place but does not count. The counting rows (#TRANS and #RTRANS) of a voucher must sum
to exactly 0.00 (#TRANS note 4).

#KSUMMA. A file may hold ``#KSUMMA`` without a value (after #FLAGGA) and end with
``#KSUMMA <crc>``. The rule, from *SIE filformat, utgåva 4B, 2008-09-30*, section 10
(the PDF is in github.com/blinfo/Sie4j as docs/SIE_filformat_ver_4B_080930.pdf):
CRC-32 with polynomial EDB88320, preset FFFFFFFF, result inverted (10.11-10.13; the
same as ``zlib.crc32``), over every record after the opening #KSUMMA up to but not
including the closing one (10.14): each record's label and its fields, without the
spaces and tabs between fields, without the quotes around a field, without the braces
of object lists and of a voucher's rows, an escaped ``\\"`` counting as ``"`` alone;
characters counted by their code page 437 value. The spec's example (10.15) underlines
exactly ``#KONTO1915Kassa "special"`` in ``#KONTO 1915 "Kassa \\"special\\""`` (checked
against the underline marks' positions in the PDF). The value is decimal; a value written
as a signed 32-bit number is accepted too. For a file read as UTF-8 or latin-1 the sum
over the characters' bytes in that encoding is also accepted, since the spec knows only
cp437 and writers of such files differ. An opening #KSUMMA with no closing one means
a cut file (10.6). A mismatch, like every other fault, is :class:`ledger.errors.Malformed`
with the line. The check can only happen at the closing #KSUMMA, after every record has
been yielded: a caller that records what it reads must keep it all uncommitted until the
generator is exhausted.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator

import attrs

from ledger.errors import Malformed
from ledger.sie_lines import (
    Checksum,
    Field,
    Objects,
    account_field,
    amount_field,
    date_field,
    decoded_lines,
    int_field,
    is_blank,
    need,
    objects_field,
    show,
    split_fields,
    text_field,
)
from ledger.values import Amount

TRANS, RTRANS, BTRANS = "trans", "rtrans", "btrans"
_PERIOD_RE = re.compile(r"[0-9]{4}(?:0[1-9]|1[0-2])")


@attrs.frozen
class FiscalYear:
    """#RAR: fiscal year ``index`` (0 = the file's year, -1 the one before) runs start..end."""

    index: int
    start: datetime.date
    end: datetime.date
    line: int


@attrs.frozen
class Dimension:
    """#DIM: a dimension of accounting objects (e.g. 1 cost centre, 6 project) and its name."""

    number: int
    name: str
    line: int


@attrs.frozen
class ObjectDef:
    """#OBJEKT: an accounting object of a dimension (e.g. 20 "9902") and its name."""

    dimension: int
    number: str
    name: str
    line: int


@attrs.frozen
class Account:
    """#KONTO: an account and its name."""

    number: str
    name: str
    line: int


@attrs.frozen
class ObjectBalance:
    """#OUB: the closing balance of an account on the object(s) for fiscal year ``year_index``."""

    year_index: int
    account: str
    objects: Objects
    amount: Amount
    line: int


@attrs.frozen
class PeriodBalance:
    """#PSALDO: an account's balance for one period (``YYYYMM``) of fiscal year ``year_index``."""

    year_index: int
    period: str
    account: str
    objects: Objects
    amount: Amount
    line: int

    @property
    def year(self) -> int:
        return int(self.period[:4])

    @property
    def month(self) -> int:
        return int(self.period[4:])


@attrs.frozen
class Row:
    """One row record of a voucher: #TRANS (``trans``), #RTRANS (``rtrans``, an added row)
    or #BTRANS (``btrans``, a struck row), with its 1-based ``place`` in the voucher."""

    kind: str
    account: str
    objects: Objects
    amount: Amount
    transdat: datetime.date | None
    text: str | None
    place: int
    line: int

    @property
    def counts(self) -> bool:
        """Whether the row is booked: #TRANS and #RTRANS are, a struck #BTRANS is not."""
        return self.kind != BTRANS


@attrs.frozen
class Voucher:
    """#VER with its rows: series, number, date, text, registration date, line of the #VER."""

    serie: str
    vernr: str
    date: datetime.date
    text: str
    regdate: datetime.date | None
    rows: tuple[Row, ...]
    line: int

    @property
    def counting_rows(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.counts)


Record = FiscalYear | Dimension | ObjectDef | Account | ObjectBalance | PeriodBalance | Voucher
_ROW_KINDS = {"#TRANS": TRANS, "#RTRANS": RTRANS, "#BTRANS": BTRANS}


def read_sie(lines: Iterable[bytes], encoding: str = "auto") -> Iterator[Record]:
    """The records of an SIE 4 file, in file order, as the lines are read.

    Raises :class:`ledger.errors.Malformed` naming the line for anything it cannot read,
    an unbalanced voucher, and a #KSUMMA that does not match (at the end: see the module's
    docstring). ``encoding`` is ``auto`` (default), ``cp437``, ``utf-8`` or ``latin-1``.
    """
    crc: Checksum | None = None  # while a #KSUMMA section is open
    opened_at = 0  # line of the opening #KSUMMA; -1 once closed
    ver: _OpenVoucher | None = None
    for number, text, read_as in decoded_lines(lines, encoding):
        if is_blank(text):
            continue
        bare = text.strip(" \t")
        if bare in ("{", "}"):
            if ver is None:
                raise Malformed(f"line {number}: '{bare}' without a #VER before it")
            if bare == "{":
                ver.open_block(number)
            else:
                yield ver.close(number)
                ver = None
            continue
        fields = split_fields(text, number)
        label = fields[0]
        if not isinstance(label, str) or not label.startswith("#"):
            raise Malformed(f"line {number}: a record starts with a #LABEL, not {show(label)}")
        label = label.upper()
        if label == "#KSUMMA":
            if len(fields) == 1 and opened_at == 0:
                crc, opened_at = Checksum(), number
            elif len(fields) >= 2 and crc is not None:
                _check_sum(fields[1], crc, opened_at, number)
                crc, opened_at = None, -1
            else:
                why = "again: a file has one checksum" if opened_at else "with a value but no opening #KSUMMA"
                raise Malformed(f"line {number}: #KSUMMA {why}")
            continue
        if crc is not None:
            crc.add(fields, read_as)
        if ver is not None:
            ver.add(label, fields, number)
            continue
        if label in _ROW_KINDS:
            raise Malformed(f"line {number}: {label} outside a voucher (#VER … {{ … }})")
        if label == "#VER":
            ver = _OpenVoucher(fields, number)
        elif label in _TOP:
            yield _TOP[label](fields, number)
    if ver is not None:
        raise Malformed(f"line {ver.line}: the voucher {ver.name} has no closing '}}' before the end of the file")
    if crc is not None:
        raise Malformed(
            f"line {opened_at}: #KSUMMA opens a checksum but the file has no closing "
            "#KSUMMA: the file is cut short"
        )


def _check_sum(value: Field, crc: Checksum, opened_at: int, number: int) -> None:
    """Malformed unless the closing #KSUMMA's value is the section's checksum."""
    if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,10}", value):
        raise Malformed(f"line {number}: #KSUMMA {show(value)} is not a decimal checksum")
    if not crc.matches(int(value)):
        found = crc.value if crc.value is not None else crc.own
        raise Malformed(
            f"line {number}: #KSUMMA {value} does not match the checksum {found} of lines "
            f"{opened_at + 1}-{number - 1}: the file was changed or damaged"
        )


class _OpenVoucher:
    """A #VER being read: its header, and its rows so far with the #RTRANS echo rule."""

    def __init__(self, fields: list, number: int) -> None:
        need(fields, 4, "serie vernr verdatum", number)
        self.serie, self.vernr = text_field(fields[1], "serie", number), text_field(fields[2], "vernr", number)
        self.date = date_field(fields[3], "verdatum", number)
        self.text = text_field(fields[4], "vertext", number) if len(fields) > 4 else ""
        self.regdate = date_field(fields[5], "regdatum", number, optional=True) if len(fields) > 5 else None
        self.line, self.block = number, False
        self.rows: list[Row] = []
        self.added: list | None = None  # the fields of an #RTRANS just read, for its echo

    @property
    def name(self) -> str:
        return f"{self.serie or '-'} {self.vernr or '-'} of {self.date:%Y-%m-%d}"

    def open_block(self, number: int) -> None:
        if self.block:
            raise Malformed(f"line {number}: a second '{{' in the voucher {self.name} of line {self.line}")
        self.block = True

    def add(self, label: str, fields: list, number: int) -> None:
        """One record inside the voucher's braces (rows; other records are skipped)."""
        if not self.block:
            raise Malformed(f"line {number}: the #VER of line {self.line} is not followed by '{{'")
        if label == "#VER":
            raise Malformed(f"line {number}: {label} inside the voucher {self.name} of line {self.line} (no '}}')")
        added, self.added = self.added, None
        if label == "#TRANS" and added is not None and fields[1:] == added:
            return  # the echo of the #RTRANS above it
        kind = _ROW_KINDS.get(label)
        if kind is None:
            return
        if kind == RTRANS:
            self.added = fields[1:]
        self.rows.append(_row(kind, fields, len(self.rows) + 1, number))

    def close(self, number: int) -> Voucher:
        """The finished voucher; Malformed when its counting rows do not sum to 0.00."""
        if not self.block:
            raise Malformed(f"line {number}: '}}' closes the #VER of line {self.line} that has no '{{'")
        total = sum(r.amount.ore for r in self.rows if r.counts)
        if total:
            raise Malformed(
                f"line {self.line}: the voucher {self.name} does not balance: its rows sum "
                f"to {Amount(total).plain()}, not 0.00"
            )
        return Voucher(self.serie, self.vernr, self.date, self.text, self.regdate, tuple(self.rows), self.line)


def _row(kind: str, fields: list, place: int, number: int) -> Row:
    """A #TRANS, #RTRANS or #BTRANS: kontonr {objektlista} belopp [transdat] [transtext] …"""
    label = fields[0]
    need(fields, 4, "kontonr {objektlista} belopp", number)
    account = account_field(fields[1], number, label)
    objects = objects_field(fields[2], number, label)
    amount = amount_field(fields[3], number, label)
    transdat = date_field(fields[4], "transdat", number, optional=True) if len(fields) > 4 else None
    text = text_field(fields[5], "transtext", number) if len(fields) > 5 else ""
    return Row(kind, account, objects, amount, transdat, text or None, place, number)


def _year(fields: list, number: int) -> FiscalYear:
    need(fields, 4, "årsnr start slut", number)
    index = int_field(fields[1], "årsnr", number)
    start, end = date_field(fields[2], "start", number), date_field(fields[3], "slut", number)
    if end < start:
        raise Malformed(f"line {number}: #RAR {index} ends {end} before it starts {start}")
    return FiscalYear(index, start, end, number)


def _dimension(fields: list, number: int) -> Dimension:
    need(fields, 3, "dimensionsnr namn", number)
    return Dimension(int_field(fields[1], "dimensionsnr", number), text_field(fields[2], "namn", number), number)


def _object(fields: list, number: int) -> ObjectDef:
    need(fields, 4, "dimensionsnr objektnr objektnamn", number)
    dim = int_field(fields[1], "dimensionsnr", number)
    return ObjectDef(dim, text_field(fields[2], "objektnr", number), text_field(fields[3], "objektnamn", number), number)


def _konto(fields: list, number: int) -> Account:
    need(fields, 3, "kontonr kontonamn", number)
    return Account(account_field(fields[1], number, "#KONTO"), text_field(fields[2], "kontonamn", number), number)


def _oub(fields: list, number: int) -> ObjectBalance:
    need(fields, 5, "årsnr konto {dimensionsnr objektnr} saldo", number)
    return ObjectBalance(
        int_field(fields[1], "årsnr", number), account_field(fields[2], number, "#OUB"),
        objects_field(fields[3], number, "#OUB"), amount_field(fields[4], number, "#OUB"), number,
    )


def _psaldo(fields: list, number: int) -> PeriodBalance:
    need(fields, 6, "årsnr period konto {objektlista} saldo", number)
    period = text_field(fields[2], "period", number)
    if not _PERIOD_RE.fullmatch(period):
        raise Malformed(f"line {number}: #PSALDO period {period!r} is not YYYYMM")
    return PeriodBalance(
        int_field(fields[1], "årsnr", number), period, account_field(fields[3], number, "#PSALDO"),
        objects_field(fields[4], number, "#PSALDO"), amount_field(fields[5], number, "#PSALDO"), number,
    )


_TOP = {"#RAR": _year, "#DIM": _dimension, "#OBJEKT": _object, "#KONTO": _konto,
        "#OUB": _oub, "#PSALDO": _psaldo}  # fmt: skip
