"""Budget against actual, and figures by effective date (``--until``).

A year's budget is what its decisions grant for it; the actual is what is booked on them.
``budget_rows`` sums both by decision, business area or purpose, with the share used and,
when asked, what was spent in each month or quarter (by the bookings' own dates). With
``until``, only what had taken effect by that day counts: decisions taken by then (at
their amounts as recorded) and bookings dated by then and not reversed by then — "spent
by 30 June", as distinct from ``--as-of``, which replays what had been *recorded* by a
moment.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ledger.values import ZERO, Amount, Region

if TYPE_CHECKING:  # annotations only: the queries' options name BY without loading the aggregates
    from ledger.decision import Decision
    from projections.fold import LedgerView

BY = ("decision", "area", "purpose")
PERIODS = ("month", "quarter")


def live_bookings(decision: Decision, year: int, until: datetime.date | None = None) -> Iterable[Any]:
    """The year's bookings that count on ``until`` (dated by then and not reversed by then)."""
    for b in decision.bookings.values():
        if b.year != year or (until is not None and b.booked_on > until):
            continue
        if b.reversed_on is not None and (until is None or b.reversed_on <= until):
            continue
        yield b


def spent_until(decision: Decision, year: int, until: datetime.date | None) -> Amount:
    if until is None:
        return decision.spent_for(year)
    return Amount(sum(b.amount for b in live_bookings(decision, year, until)))


def taken_by(decision: Decision, until: datetime.date | None) -> bool:
    return until is None or decision.decided_on <= until


def period_of(day: datetime.date, period: str) -> str:
    return f"{day.year}-{day.month:02d}" if period == "month" else f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def budget_rows(view: LedgerView, grant_id: str, year: int, region: str | None = None, by: str = "decision",
                period: str | None = None, until: datetime.date | None = None) -> list[dict[str, Any]]:
    """Per decision, area or purpose (and region): decided for the year, spent, remaining,
    the share used in percent (one decimal), and with ``period`` the spending per month or
    quarter (keys such as "2018-03" or "2018-Q1", in order)."""
    groups: dict[tuple, dict[str, Any]] = {}
    # every month or quarter of the year, and any later one carried-over bookings fall in
    periods = {period_of(datetime.date(year, m, 1), period) for m in range(1, 13)} if period else set()
    for d in view.grant_decisions(grant_id, region):
        decided = d.committed_for(year)
        if not decided and not d.spent_for(year) or not taken_by(d, until):
            continue
        key = (d.region, {"decision": d.decision_id, "area": d.area, "purpose": d.purpose}[by])
        row = groups.setdefault(key, {
            "region": d.region, "region_name": Region(d.region).name, "year": year, by: key[1],
            **({"area": d.area, "purpose": d.purpose, "status": d.status} if by == "decision" else {}),
            "decided": ZERO, "spent": ZERO, "_periods": {},
        })
        row["decided"] += decided
        row["spent"] += spent_until(d, year, until)
        if period:
            for b in live_bookings(d, year, until):
                p = period_of(b.booked_on, period)
                periods.add(p)
                row["_periods"][p] = row["_periods"].get(p, ZERO) + Amount(b.amount)
    rows = []
    for key in sorted(groups):
        row = groups[key]
        spent_by = row.pop("_periods")
        row["remaining"] = row["decided"] - row["spent"]
        row["used_percent"] = (None if not row["decided"].ore
                               else round(100 * row["spent"].ore / row["decided"].ore, 1))
        for p in sorted(periods):
            row[p] = spent_by.get(p, ZERO)
        rows.append(row)
    return rows


def until_commitments(rows: list[dict[str, Any]], view: LedgerView, grant_id: str,
                      until: datetime.date) -> list[dict[str, Any]]:
    """Commitment rows as they stood in effect on ``until``: decisions taken by then, spent
    and remaining by the bookings' dates."""
    out = []
    for row in rows:
        d = view.decisions.get((grant_id, row["decision"]))
        if d is None or not taken_by(d, until):
            continue
        spent = spent_until(d, row["year"], until)
        out.append({**row, "spent": spent, "remaining": row["amount"] - spent})
    return out


def until_balances(rows: list[dict[str, Any]], view: LedgerView, grant_id: str,
                   until: datetime.date) -> list[dict[str, Any]]:
    """Balance rows with ``spent`` as booked (by the bookings' dates) by ``until``."""
    by_region = view.decisions_by_region(grant_id)
    return [{**row, "spent": Amount(sum(spent_until(d, row["year"], until).ore
                                        for d in by_region.get(row["region"], ())))}
            for row in rows]
