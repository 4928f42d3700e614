"""CSV dialects: the contract's plain CSV, and CSV as Swedish Excel reads and writes it.

``plain`` (the default) is cli.md's CSV: comma separated, UTF-8 without a byte order
mark, amounts ``2228598.00``, recorded times ISO 8601 with their offset.

``excel-sv`` is what Excel with Swedish regional settings opens by a double click and
saves as "CSV UTF-8": semicolon separated (the comma is the decimal sign there), UTF-8
with a byte order mark (without it Excel reads the file as Windows-1252 and garbles
å, ä, ö), amounts with a decimal comma and no digit grouping (``2228598,00``, read as a
number), dates ``2018-03-20`` and recorded times in UTC as ``2019-02-15 10:31:07``
(both read as dates).

Files read (allocation tables, population files, SIE map files) need no option: a byte
order mark is skipped, the separator is the one the header line uses most (semicolon or
comma), and amounts take a decimal comma or point alike (``ledger.values.Amount``).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from ledger.values import Amount

DIALECTS = ("plain", "excel-sv")
BOM = "\ufeff"

# text columns that hold a decimal number (a reclaim's interest rate in percent)
DECIMAL_TEXT = {"rate"}
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def delimiter(dialect: str) -> str:
    """The separator a dialect writes."""
    return ";" if dialect == "excel-sv" else ","


def bom(dialect: str) -> str:
    """What a CSV output of the dialect begins with."""
    return BOM if dialect == "excel-sv" else ""


def excel_value(key: str, value: Any) -> Any:
    """A cell for Swedish Excel, or ``value`` unchanged when it needs nothing Swedish
    (the caller then writes it as plain CSV does)."""
    if isinstance(value, Amount):
        return value.plain().replace(".", ",")
    if isinstance(value, datetime.datetime):
        return utc_naive(value).strftime("%Y-%m-%d %H:%M:%S")
    if key in DECIMAL_TEXT and isinstance(value, str) and _DECIMAL.match(value):
        return value.replace(".", ",")
    return value


def utc_naive(moment: datetime.datetime) -> datetime.datetime:
    """A recorded time as a spreadsheet holds it: in UTC, without a zone."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def decimal_text(key: str, value: Any) -> float | None:
    """The number a decimal text column holds (``"2.5"`` -> 2.5), else None."""
    if key in DECIMAL_TEXT and isinstance(value, str) and _DECIMAL.match(value):
        return float(value)
    return None


def sniff(text: str) -> str:
    """The separator of a CSV file read: the one its first non-blank line holds more of
    (``region;amount``, ``23;Jämtland;8 357 305,50``), a comma when it holds neither."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","
