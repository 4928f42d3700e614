"""Balances per grant, region and year: the figures of domain.md's balance rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ledger.region_year import RegionYear
from ledger.decision import Decision
from ledger.values import FIGURES, Amount, Region, total
from projections.fold import LedgerView

# FIGURES (the balance figures' names) is ledger/values.py's, here for the read side's modules
__all__ = ["FIGURES", "balance_rows", "year_figures"]


def year_figures(ry: RegionYear, decisions: Iterable[Decision]) -> dict[str, Amount]:
    """The balance figures of one region-year; ``decisions`` are the region's decisions."""
    return {
        "allocated": ry.allocated,
        "requisitioned": ry.requisitioned,
        "committed": ry.committed,
        "reserved": ry.reserved,
        "spent": total(d.spent_for(ry.year) for d in decisions),
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
            **year_figures(ry, by_region.get(ry.region, ())),
            "frame": ry.frame_amount,
            "repaid": ry.repaid,
            "closed": ry.closed,
        })
    return rows
