"""From an SIE 4 file to the grant's bookings and the books' totals (the rules of
../shared/spec/sie.md, as docs/sie.md tells them): which rows are the grant's cost rows,
which decision each belongs to, its voucher id, date, year, amount and text, and the
per-year totals `grants sie reconcile` compares with the ledger.

Pure: it reads the records :func:`ledger.sie.read_sie` yields and the lines of a map
file, and gives :class:`~ledger.books.Entry` values for :func:`ledger.books.book_all`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

import attrs

from ledger.books import Entry
from ledger.errors import Malformed
from ledger.sie import FiscalYear, ObjectBalance, PeriodBalance, Row, Voucher
from ledger.values import Amount, check_text, parse_identifier

DEFAULT_ACCOUNTS = "4000-7999"  # the cost classes: the grant's own revenue row is never a cost
_RANGE = re.compile(r"([0-9]{1,10})(?:-([0-9]{1,10}))?")


@attrs.frozen
class Accounts:
    """The accounts whose rows can be the grant's costs: ranges of account numbers."""

    ranges: tuple[tuple[int, int], ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> Accounts:
        """``4000-7999`` or ``4000-5999,7000-7999,8410``: comma-separated ranges."""
        ranges = []
        for part in text.split(","):
            match = _RANGE.fullmatch(part.strip())
            if match is None:
                raise Malformed(f"--accounts {text!r}: {part.strip()!r} is not an account or a range FROM-TO")
            low = int(match.group(1))
            high = int(match.group(2) or low)
            if high < low:
                raise Malformed(f"--accounts {text!r}: the range {part.strip()} runs backwards")
            ranges.append((low, high))
        return cls(tuple(ranges), text)

    def __contains__(self, account: str) -> bool:
        if not account.isdigit():
            return False
        number = int(account)
        return any(low <= number <= high for low, high in self.ranges)


Pair = tuple[int, str]  # (dimension number, object number)


def read_map(lines: Iterable[str], where: str) -> dict[Pair, str]:
    """A map file: the header ``dimension,object,decision`` (comma or semicolon), then one
    (dimension, object) pair and the decision its cost rows belong to per line."""
    rows = iter(lines)
    header = next(rows, "")
    delimiter = ";" if header.count(";") > header.count(",") else ","
    names = [h.strip().lower() for h in next(csv.reader([header], delimiter=delimiter))] if header else []
    if names != ["dimension", "object", "decision"]:
        raise Malformed(f"{where}: line 1 must be the header dimension,object,decision (comma or semicolon)")
    mapping: dict[Pair, str] = {}
    for number, fields in enumerate(csv.reader(rows, delimiter=delimiter), start=2):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != 3:
            raise Malformed(f"{where}: line {number} does not have dimension, object and decision")
        dimension, obj, decision = (f.strip() for f in fields)
        if not dimension.isdigit() or not dimension.isascii():
            raise Malformed(f"{where}: line {number}: dimension {dimension!r} is not a dimension number")
        check_text(obj, f"{where}: line {number}: object")
        if not obj:
            raise Malformed(f"{where}: line {number}: the object is empty")
        decision = parse_identifier(decision, f"{where}: line {number}: decision")
        pair = (int(dimension), obj)
        if mapping.get(pair, decision) != decision:
            raise Malformed(f"{where}: line {number}: dimension {pair[0]} object {obj} is mapped to "
                            f"{mapping[pair]} already")
        mapping[pair] = decision
    return mapping


@attrs.define
class FileBooks:
    """What a file says of the grant: its cost rows as entries (when a map was given), and
    per year the sum of those rows (``books``) and the file's own balances for the grant's
    object on the accounts (``balances``: #OUB, else the sum of the year's #PSALDO)."""

    entries: list[Entry] = attrs.field(factory=list)
    books: dict[int, Amount] = attrs.field(factory=dict)
    closing: dict[int, Amount] = attrs.field(factory=dict)
    periods: dict[int, Amount] = attrs.field(factory=dict)
    fiscal_years: dict[int, FiscalYear] = attrs.field(factory=dict)
    vouchers: int = 0
    rows: int = 0

    @property
    def balances(self) -> dict[int, Amount]:
        return {**self.periods, **self.closing}

    @property
    def years(self) -> list[int]:
        this = self.fiscal_years.get(0)
        return sorted(set(self.books) | set(self.balances) | ({this.start.year} if this else set()))


def _add(sums: dict[int, Amount], year: int, amount: Amount) -> None:
    sums[year] = sums.get(year, Amount(0)) + amount


def grant_rows(records: Iterable[object], *, dimension: int, object: str, accounts: Accounts,
               mapping: dict[Pair, str] | None = None) -> FileBooks:
    """Read the records (all of them: a #KSUMMA is checked at the end) into the grant's
    cost rows and totals. A row is the grant's cost row when it counts (#TRANS, #RTRANS),
    its account is in ``accounts`` and its object list holds (``dimension``, ``object``)."""
    found = FileBooks()
    mine = (dimension, object)
    for record in records:
        if isinstance(record, Voucher):
            found.vouchers += 1
            for row in record.rows:
                found.rows += 1
                if row.counts and row.account in accounts and mine in row.objects and row.amount.ore:
                    day = row.transdat or record.date
                    _add(found.books, day.year, row.amount)
                    if mapping is not None:
                        found.entries.append(_entry(found, record, row, mapping, object))
        elif isinstance(record, FiscalYear):
            found.fiscal_years[record.index] = record
        elif isinstance(record, ObjectBalance):
            if record.account in accounts and mine in record.objects and record.year_index in found.fiscal_years:
                _add(found.closing, found.fiscal_years[record.year_index].start.year, record.amount)
        elif isinstance(record, PeriodBalance):
            if record.account in accounts and mine in record.objects:
                _add(found.periods, record.year, record.amount)
    return found


def _entry(found: FileBooks, voucher: Voucher, row: Row, mapping: dict[Pair, str], object: str) -> Entry:
    """The booking a grant cost row asks for: its voucher id, decision, date, year, amount, text."""
    this = found.fiscal_years.get(0)
    fiscal = this.start.year if this else voucher.date.year
    voucher_id = f"{fiscal}-{voucher.serie}-{voucher.vernr}-{row.place}"
    day = row.transdat or voucher.date
    decisions = list(dict.fromkeys(mapping[p] for p in row.objects if p in mapping))
    problem = ""
    if not decisions:
        shown = " ".join(f"{d} {o}" for d, o in row.objects)
        problem = f"no decision in the map for its objects {{{shown}}} (line {row.line})"
    elif len(decisions) > 1:
        problem = f"{len(decisions)} decisions in the map match it: {', '.join(decisions)} (line {row.line})"
    text = row.text if row.text else voucher.text
    return Entry(voucher_id, decisions[0] if len(decisions) == 1 else "", day.year, row.amount, day, object,
                 text or "", problem)


def byte_lines(stream: object, seen: list[int] | None = None) -> Iterator[bytes]:
    """The lines of a binary stream, counting the bytes read into ``seen[0]`` (a progress bar)."""
    for line in stream:  # type: ignore[attr-defined]
        if seen is not None:
            seen[0] += len(line)
        yield line
