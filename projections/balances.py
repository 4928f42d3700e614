"""Balances per grant, region and year: the figures of domain.md's balance rules."""

from __future__ import annotations

from typing import Any

from ledger.values import Region, total
from projections.fold import LedgerView


def balance_rows(view: LedgerView, grant_id: str, region: str | None = None,
                 year: int | None = None) -> list[dict[str, Any]]:
    """One row per region-year with anything recorded, in county and year order."""
    by_region = view.decisions_by_region(grant_id)
    rows = []
    for ry in view.years_of(grant_id, region, year):
        spent = total(d.spent_for(ry.year) for d in by_region.get(ry.region, ()))
        rows.append({
            "grant": grant_id,
            "region": ry.region,
            "region_name": Region(ry.region).name,
            "year": ry.year,
            "allocated": ry.allocated,
            "requisitioned": ry.requisitioned,
            "committed": ry.committed,
            "reserved": ry.reserved,
            "spent": spent,
            "available": ry.available,
            "shortfall": ry.shortfall,
            "frame": ry.frame_amount,
            "repaid": ry.repaid,
            "closed": ry.closed,
        })
    return rows
