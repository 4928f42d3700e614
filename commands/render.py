"""Rows to text: an aligned table for people, JSON and CSV for scripts.

Amounts: tables group digits (``2 228 598``); JSON and CSV give strings with exactly
two decimals (``"2228598.00"``). Dates are ISO strings; missing values are null/empty.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
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
    if isinstance(value, float):  # a share in percent: one decimal, a decimal comma like money
        return f"{value:.1f}".replace(".", ",")
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


def findings_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Compliance rows' findings for people, the same in every command: a blank line and a
    heading per region-year ("23 Jämtland 2018:"), then one "  - finding" line each (a
    region's code never stands right before an amount)."""
    lines: list[str] = []
    for row in rows:
        if row["findings"]:
            lines += ["", f"{row['region']} {row['region_name']} {row['year']}:"]
            lines += [f"  - {finding}" for finding in row["findings"]]
    return lines


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


MAX_CELL = 44  # wider text is cut in tables (JSON and CSV keep it whole), unless --wide
MIN_CELL = 12  # narrowest a text column is cut to, to fit a terminal
# the figures a table's totals row sums (when every row has an amount there)
SUMMED = frozenset({
    "allocated", "requisitioned", "committed", "reserved", "spent", "available", "shortfall", "frame",
    "paid", "repaid", "reclaimed", "waived", "owed", "interest", "prepaid_income", "decided", "amount",
    "remaining", "money_at_risk", "earmarked_used_elsewhere", "interest_paid", "interest_waived",
})
TOTAL = "_total"  # marks the totals row
# columns a narrow terminal may leave out (the figures and ids never are)
SPARE = frozenset({"region_name", "frame", "paid", "repaid", "closed", "decided_by", "decided_on", "area",
                   "activity", "status", "recorded_by", "effective", "interest_from", "rate"})
_PERIOD = re.compile(r"\d{4}-(\d\d|Q\d)")  # a budget's month or quarter column


def _fit(text: str, last: bool, limit: int | None) -> str:
    return text if last or limit is None or len(text) <= limit else text[: limit - 1] + "…"


def with_totals(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The rows and, when there are two or more and the table shows figures that add up, a
    totals row: "total" in the first column, the sum of each such figure."""
    keys = [k for k, _ in columns if (k in SUMMED or _PERIOD.fullmatch(k))
            and all(isinstance(r.get(k), Amount) for r in rows)]
    if len(rows) < 2 or not keys:
        return list(rows)
    total: dict[str, Any] = {k: Amount(sum(r[k].ore for r in rows)) for k in keys}
    total[columns[0][0]] = "total"
    if "used_percent" in {k for k, _ in columns} and "decided" in total and total["decided"].ore:
        total["used_percent"] = round(100 * total["spent"].ore / total["decided"].ore, 1)
    total[TOTAL] = True
    return [*rows, total]


def _terminal_width() -> int | None:
    """The terminal's width when printing to one (None: not a terminal, no limit)."""
    import shutil
    import sys
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((120, 24)).columns


def as_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]],
             empty: str = "(nothing recorded)", wide: bool = False, width: int | None = None) -> str:
    """Aligned columns; ``columns`` are (key, heading). Numbers are right-aligned; a totals
    row (see :func:`with_totals`) stands under a rule.

    Long text is cut (…) at 44 characters, except in the last column, and further, down to
    12, to fit ``width`` (a terminal's); when that is not enough, the columns a reader can
    do without (:data:`SPARE`, from the right) are left out, and a last line names them.
    ``wide`` shows every column and every text whole.
    """
    if not rows:
        return empty
    left_out: list[str] = []
    if not wide and width is not None:
        columns = list(columns)
        texts = [[cell(row.get(key)) for key, _ in columns] for row in rows]
        while _width(texts, columns, MIN_CELL, len(columns) - 1) > width:
            spare = [i for i, (key, _) in enumerate(columns) if key in SPARE]
            if not spare:
                break
            left_out.insert(0, columns.pop(spare[-1])[1])
            texts = [[cell(row.get(key)) for key, _ in columns] for row in rows]
    table = _table(rows, columns, wide, width)
    if left_out:
        table += f"\n(left out to fit the terminal: {', '.join(left_out)}; --wide shows every column)"
    return table


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], wide: bool,
           width: int | None) -> str:
    last = len(columns) - 1
    texts = [[cell(row.get(key)) if not (row.get(TOTAL) and row.get(key) is None) else ""
              for key, _ in columns] for row in rows]
    limit = None if wide else MAX_CELL
    if limit is not None and width is not None:
        while limit > MIN_CELL and _width(texts, columns, limit, last) > width:
            limit -= 4
    cells = [[_fit(t, i == last, limit) for i, t in enumerate(r)] for r in texts]
    headings = [heading for _, heading in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headings)]
    right = [
        all(isinstance(row.get(key), (Amount, int, float)) and not isinstance(row.get(key), bool)
            for row in rows if row.get(key) is not None and not row.get(TOTAL))
        for key, _ in columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return "  ".join(parts).rstrip()

    rule = line(["-" * w for w in widths])
    body = [line(c) for c in cells]
    if rows[-1].get(TOTAL):
        body.insert(len(body) - 1, rule)
    return "\n".join([line(headings), rule, *body])


def _width(texts: list[list[str]], columns: Sequence[tuple[str, str]], limit: int, last: int) -> int:
    return sum(max(len(h), *(len(_fit(r[i], i == last, limit)) for r in texts)) + 2
               for i, (_, h) in enumerate(columns)) - 2


def render(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[tuple[str, str]],
           empty: str = "(nothing recorded)", wide: bool = False, dialect: str = "plain") -> str:
    if fmt == "json":
        return as_json(list(rows))
    if fmt == "csv":
        return as_csv(rows, all_columns(rows, columns), dialect)
    return as_table(with_totals(rows, columns), columns, empty, wide, _terminal_width())


# the column sets of the tables queries print: (key, heading)

BALANCE_COLUMNS = [
    ("region", "region"), ("region_name", "name"), ("year", "year"), ("allocated", "allocated"),
    ("requisitioned", "requisitioned"), ("committed", "committed"), ("reserved", "reserved"),
    ("spent", "spent"), ("available", "available"), ("shortfall", "shortfall"), ("frame", "frame"),
    ("paid", "paid"), ("repaid", "repaid"), ("closed", "closed"),
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

