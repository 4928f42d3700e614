"""Balances per grant, region and year: the figures of domain.md's balance rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ledger.region_year import RegionYear
from ledger.decision import Decision
from ledger.values import FIGURES, ZERO, Amount, Region, total
from projections.fold import LedgerView

# FIGURES (the balance figures' names) is ledger/values.py's, here for the read side's modules
__all__ = ["FIGURES", "balance_rows", "spent", "spent_by_year", "spent_change", "year_figures"]


def spent(year: int, decisions: Iterable[Decision | None]) -> Amount:
    """What is spent in a year: the sum of the decisions' live bookings for it.

    The one definition of "spent". The fold sums a region's decisions with it; the read
    models keep each balance row's spent by adding, as a decision changes, this sum of
    the decision after the change less the sum of it before (the sum is linear); a
    balance query checks the row against the sum of its commitment rows.
    """
    return total(d.spent_for(year) for d in decisions if d is not None)


def spent_by_year(decision: Decision | None) -> dict[int, Amount]:
    """What a decision has spent in each of its years, with :func:`spent`."""
    return {} if decision is None else {y: spent(y, [decision]) for y in decision.years}


def spent_change(before: dict[int, Amount], after: Decision) -> dict[int, Amount]:
    """How a change moved what a decision has spent, by year: ``before`` is its
    :func:`spent_by_year` before the change (years it did not move are left out)."""
    now = spent_by_year(after)
    moved = {y: now.get(y, ZERO) - before.get(y, ZERO) for y in set(now) | set(before)}
    return {y: a for y, a in moved.items() if a.ore}


def year_figures(ry: RegionYear, decisions: Iterable[Decision],
                 sums: dict[tuple[str, int], int] | None = None) -> dict[str, Amount]:
    """The balance figures of one region-year; ``decisions`` are the region's decisions (or
    ``sums`` what they had spent, by region and year)."""
    return {
        "allocated": ry.allocated,
        "requisitioned": ry.requisitioned,
        "committed": ry.committed,
        "reserved": ry.reserved,
        "spent": spent(ry.year, decisions) if sums is None else Amount(sums.get((ry.region, ry.year), 0)),
        "available": ry.available,
        "shortfall": ry.shortfall,
    }


def balance_rows(view: LedgerView, grant_id: str, region: str | None = None,
                 year: int | None = None) -> list[dict[str, Any]]:
    """One row per region-year with anything recorded, in county and year order."""
    by_region = view.decisions_by_region(grant_id)
    rows = []
    for ry in view.years_of(grant_id, region, year):
        rows.append({
            "grant": grant_id,
            "region": ry.region,
            "region_name": Region(ry.region).name,
            "year": ry.year,
            **year_figures(ry, by_region.get(ry.region, ()), view.spent),
            "frame": ry.frame_amount,
            "repaid": ry.repaid,
            "paid": ry.paid,
            "reclaimed": ry.reclaimed,
            "waived": ry.waived,
            "closed": ry.closed,
        })
    return rows
