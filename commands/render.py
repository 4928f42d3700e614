"""Rows to text: an aligned table for people, JSON and CSV for scripts.

Amounts: tables group digits (``2 228 598``); JSON and CSV give strings with exactly
two decimals (``"2228598.00"``). Dates are ISO strings; missing values are null/empty.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Sequence
from typing import Any

from commands.dialects import delimiter, excel_value
from ledger.values import Amount


def plain(value: Any) -> Any:
    """A JSON-ready value."""
    if isinstance(value, Amount):
        return value.plain()
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def cell(value: Any) -> str:
    """A table cell."""
    if value is None:
        return "-"
    if isinstance(value, Amount):
        return value.pretty()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


def as_json(rows: Any) -> str:
    return json.dumps(plain(rows), ensure_ascii=False, indent=2)


def as_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, dialect: str = "plain") -> str:
    """CSV in a dialect of ``commands.dialects`` (its byte order mark is the output's to add)."""
    columns = list(columns or (rows[0].keys() if rows else []))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", delimiter=delimiter(dialect))
    writer.writerow(columns)
    for row in rows:
        values = []
        for c in columns:
            v = plain(excel_value(c, row.get(c)) if dialect == "excel-sv" else row.get(c))
            if isinstance(v, bool):
                v = "true" if v else "false"
            values.append("; ".join(map(str, v)) if isinstance(v, list) else ("" if v is None else v))
        writer.writerow(values)
    return out.getvalue().rstrip("\n")


def all_columns(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> list[str]:
    """The keys CSV (and a workbook) shows: the table's columns, then the rows' other keys."""
    shown = [k for k, _ in columns]
    return shown + [k for k in (rows[0] if rows else {}) if k not in set(shown)]


MAX_CELL = 44  # wider text is cut in tables (JSON and CSV keep it whole)


def _fit(text: str, last: bool) -> str:
    return text if last or len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def as_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]],
             empty: str = "(nothing recorded)") -> str:
    """Aligned columns; ``columns`` are (key, heading). Numbers are right-aligned.

    Long text is cut to fit a terminal, except in the last column.
    """
    if not rows:
        return empty
    last = len(columns) - 1
    cells = [[_fit(cell(row.get(key)), i == last) for i, (key, _) in enumerate(columns)]
             for row in rows]
    headings = [heading for _, heading in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headings)]
    right = [
        all(isinstance(row.get(key), (Amount, int)) and not isinstance(row.get(key), bool)
            for row in rows if row.get(key) is not None)
        for key, _ in columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headings), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def render(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[tuple[str, str]],
           empty: str = "(nothing recorded)", dialect: str = "plain") -> str:
    if fmt == "json":
        return as_json(list(rows))
    if fmt == "csv":
        return as_csv(rows, all_columns(rows, columns), dialect)
    return as_table(rows, columns, empty)


# the column sets of the tables queries print: (key, heading)

BALANCE_COLUMNS = [
    ("region", "region"), ("region_name", "name"), ("year", "year"), ("allocated", "allocated"),
    ("requisitioned", "requisitioned"), ("committed", "committed"), ("reserved", "reserved"),
    ("spent", "spent"), ("available", "available"), ("shortfall", "shortfall"),
]
RECLAIM_COLUMNS = [
    ("region", "region"), ("year", "year"), ("reclaim", "reclaim"), ("ground", "ground"),
    ("decided_on", "decided"), ("interest_from", "interest from"), ("rate", "rate %"),
    ("reclaimed", "reclaimed"), ("repaid", "repaid"), ("waived", "waived"), ("owed", "owed"),
    ("interest", "interest"),
]
YEAR_END_COLUMNS = [
    ("region", "region"), ("region_name", "name"), ("year", "year"), ("paid", "paid"), ("spent", "spent"),
    ("decided", "decided"), ("repaid", "repaid"), ("reclaimed", "reclaimed"), ("waived", "waived"),
    ("owed", "owed"), ("prepaid_income", "prepaid income (liability)"),
]
COMMITMENT_COLUMNS = [
    ("decision", "decision"), ("region", "region"), ("year", "year"), ("area", "area"),
    ("activity", "activity"), ("purpose", "purpose"), ("amount", "amount"), ("spent", "spent"),
    ("remaining", "remaining"), ("status", "status"),
]
COMPLIANCE_COLUMNS = [
    ("region", "region"), ("region_name", "name"), ("year", "year"), ("report_due", "report due"),
    ("report_status", "report"), ("earmarked_used_elsewhere", "earmarked used elsewhere"),
    ("money_at_risk", "at risk"), ("status", "status"),
]
HISTORY_COLUMNS = [
    ("position", "pos"), ("recorded_at", "recorded at (UTC)"), ("recorded_by", "by"),
    ("type", "type"), ("effective", "effective"), ("summary", "summary"),
]


AUDIT_EVENT_COLUMNS = [
    ("position", "pos"), ("recorded_at", "recorded at (UTC)"), ("recorded_by", "by"),
    ("effective", "effective"), ("type", "type"), ("summary", "summary"),
]

