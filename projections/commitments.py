"""Commitments per decision and year: amount, spent, remaining, status."""

from __future__ import annotations

from typing import Any

from ledger.values import Region
from projections.fold import LedgerView


def commitment_rows(view: LedgerView, grant_id: str, region: str | None = None,
                    year: int | None = None) -> list[dict[str, Any]]:
    """One row per decision and year of its schedule (or bookings), by region, year, decision."""
    rows = []
    for decision in view.grant_decisions(grant_id, region):
        for y in decision.years:
            if year is not None and y != year:
                continue
            rows.append({
                "decision": decision.decision_id,
                "region": decision.region,
                "region_name": Region(decision.region).name,
                "area": decision.area,
                "activity": decision.activity,
                "purpose": decision.purpose,
                "year": y,
                "amount": decision.committed_for(y),
                "spent": decision.spent_for(y),
                "remaining": decision.remaining_for(y),
                "status": decision.status,
                "decided_by": decision.decided_by,
                "decided_on": decision.decided_on,
            })
    rows.sort(key=lambda r: (r["region"], r["year"], r["decision"]))
    return rows
