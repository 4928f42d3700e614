"""Rows to an Excel workbook (``--format xlsx``): one sheet per query, or per part of an audit.

A workbook an accountant opens without fixing anything: amounts are numbers, shown
with the number format ``#,##0.00``; dates and recorded times (UTC) are dates; the
header row is frozen and filtered; each column is as wide as what it holds. The file
format stores number formats in one notation (``,`` groups digits, ``.`` is the decimal
point) and Excel shows them in the reader's regional settings: ``#,##0.00`` is what a
Swedish Excel shows, and lists under Format Cells, as ``# ##0,00`` (``2 228 598,00``).
Writing ``# ##0,00`` itself into the file would be a different format (a space as
literal text, and a trailing comma that divides by a thousand).

An amount of 10^13 kronor or more has more digits than a spreadsheet's number keeps
exactly (15): such a cell holds the amount as text (``"12345678901234.56"``), never
a rounded number. Text cells are always text (a value beginning ``=`` is never a
formula). The columns are those of ``--format csv``: the table's, then the row's
other keys, headed by their keys.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Sequence
from typing import Any

from commands.dialects import decimal_text, utc_naive
from commands.render import AUDIT_EVENT_COLUMNS, BALANCE_COLUMNS, COMMITMENT_COLUMNS, COMPLIANCE_COLUMNS, \
    YEAR_END_COLUMNS, all_columns, cell
from ledger.values import FIGURES, Amount

MONEY = "#,##0.00"
DATE = "yyyy-mm-dd"
MOMENT = "yyyy-mm-dd hh:mm:ss"
DECIMAL = "0.00##"
EXACT_ORE = 10**15  # a double keeps 15 significant digits: amounts below 10^13 kronor are exact
WIDEST = 80  # characters; wider text wraps in a spreadsheet's own way
_FORBIDDEN = set("[]:*?/\\")

Columns = Sequence[tuple[str, str]]


class Book:
    """The sheets of one workbook, in the order added; ``data`` is the file's bytes."""

    def __init__(self) -> None:
        self.sheets: list[tuple[str, list[dict[str, Any]], list[str]]] = []

    def add(self, name: str, rows: Sequence[dict[str, Any]], columns: Columns) -> None:
        """A query's rows as a sheet; compliance's findings follow as a sheet of their own
        (``findings``, one finding a row), even when there are none."""
        rows = list(rows)
        self.sheets.append((self._unique(name), rows, all_columns(rows, columns)))
        if name == "compliance":
            self.sheets.append((self._unique("findings"), finding_rows(rows), [k for k, _ in FINDING_COLUMNS]))

    def _unique(self, name: str) -> str:
        base = "".join("-" if c in _FORBIDDEN else c for c in name)[:31].strip("'") or "rows"
        taken = {n for n, _, _ in self.sheets}
        candidate, n = base, 2
        while candidate in taken:
            candidate = f"{base[:28]} {n}"
            n += 1
        return candidate

    @property
    def data(self) -> bytes:
        import xlsxwriter  # here: only a workbook written needs it

        buffer = io.BytesIO()
        book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
        styles = {
            "head": book.add_format({"bold": True, "bottom": 1}),
            "money": book.add_format({"num_format": MONEY}),
            "date": book.add_format({"num_format": DATE}),
            "moment": book.add_format({"num_format": MOMENT}),
            "decimal": book.add_format({"num_format": DECIMAL}),
        }
        for name, rows, keys in self.sheets or [("rows", [], [])]:
            _sheet(book.add_worksheet(name), rows, keys, styles)
        book.close()
        return buffer.getvalue()


def _sheet(sheet: Any, rows: list[dict[str, Any]], keys: list[str], styles: dict[str, Any]) -> None:
    widths = [len(k) for k in keys]
    for col, key in enumerate(keys):
        sheet.write_string(0, col, key, styles["head"])
    for r, row in enumerate(rows, start=1):
        for col, key in enumerate(keys):
            widths[col] = max(widths[col], _write(sheet, r, col, key, row.get(key), styles))
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(width, WIDEST) + 2)
    sheet.freeze_panes(1, 0)
    if keys:
        sheet.autofilter(0, 0, len(rows), len(keys) - 1)


def _write(sheet: Any, r: int, c: int, key: str, value: Any, styles: dict[str, Any]) -> int:
    """Write one typed cell; return the width it shows at."""
    if value is None:
        return 0
    if isinstance(value, Amount):
        if abs(value.ore) < EXACT_ORE:
            sheet.write_number(r, c, value.ore / 100, styles["money"])
        else:
            sheet.write_string(r, c, value.plain())
        return len(value.pretty())
    if isinstance(value, bool):
        sheet.write_boolean(r, c, value)
        return 5
    if isinstance(value, datetime.datetime):
        sheet.write_datetime(r, c, utc_naive(value), styles["moment"])
        return len(MOMENT)
    if isinstance(value, datetime.date):
        sheet.write_datetime(r, c, value, styles["date"])
        return len(DATE)
    if isinstance(value, int):
        sheet.write_number(r, c, value)
        return len(str(value))
    number = decimal_text(key, value)
    if number is not None:
        sheet.write_number(r, c, number, styles["decimal"])
        return max(len(value), 4)
    text = cell(value) if isinstance(value, (list, tuple)) else str(value)
    sheet.write_string(r, c, text)
    return len(text)


FINDING_COLUMNS = [("region", "region"), ("region_name", "name"), ("year", "year"), ("finding", "finding")]


def finding_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Compliance rows' findings, one row each."""
    return [{"region": row.get("region"), "region_name": row.get("region_name"), "year": row.get("year"),
             "finding": finding}
            for row in rows for finding in row.get("findings") or []]


OPENING_COLUMNS = [("region", "region"), ("decision", "decision"), ("decided_on", "decided on"),
                   ("amount", "amount")]
REPORT_COLUMNS = [("region", "region"), ("filed_on", "filed on"), ("position", "position"), ("figure", "figure"),
                  ("as_filed", "as filed"), ("now", "now"), ("changed", "changed"), ("changed_by", "changed by"),
                  ("digest", "digest")]
RECONCILIATION_COLUMNS = [("region", "region"), ("check", "check"), ("holds", "holds"), ("detail", "detail")]


def audit_sheets(r: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]], Columns]]:
    """An audit's parts as sheets: what was audited (and the digest), events, opening,
    balances, commitments, compliance, findings, reports (one row per figure, as filed
    and now), reconciliation, year_end."""
    judged = r["compliance"][0]["judged_on"] if r["compliance"] else None
    about = [("grant", r["grant"]), ("year", r["year"]), ("region", r["region"] or "all regions"),
             ("as_of", r["as_of"]), ("position", r["position"]), ("last_recorded_at", r["last_recorded_at"]),
             ("digest", r["digest"]), ("judged_on", judged), ("reconciled", r["reconciled"])]
    return [
        ("audit", [{"item": k, "value": v} for k, v in about], [("item", "item"), ("value", "value")]),
        ("events", r["events"], AUDIT_EVENT_COLUMNS),
        ("opening", r["opening"], OPENING_COLUMNS),
        ("balances", r["balances"], BALANCE_COLUMNS),
        ("commitments", r["commitments"], COMMITMENT_COLUMNS),
        ("compliance", r["compliance"], COMPLIANCE_COLUMNS),
        ("reports", report_rows(r["reports"]), REPORT_COLUMNS),
        ("reconciliation", r["reconciliation"], RECONCILIATION_COLUMNS),
        ("year_end", r["year_end"], YEAR_END_COLUMNS),
    ]


def report_rows(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each sealed report's figures, one row per figure: as filed, now, and what changed it."""
    rows = []
    for rep in reports:
        by = "; ".join(f"position {c['position']} ({c['type']}): {c['summary']}" for c in rep["changed_by"])
        for figure in FIGURES:
            changed = figure in rep["changed"]
            rows.append({"region": rep["region"], "filed_on": rep["filed_on"], "position": rep["position"],
                         "figure": figure, "as_filed": rep["as_filed"].get(figure), "now": rep["now"].get(figure),
                         "changed": changed, "changed_by": by if changed else None, "digest": rep["digest"]})
    return rows
