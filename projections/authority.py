"""Who may decide: a grant's authorisations as rows, each with its effective dates."""

from __future__ import annotations

from typing import Any

from ledger.values import Region
from projections.fold import LedgerView


def authorisation_rows(view: LedgerView, grant_id: str, region: str | None = None) -> list[dict[str, Any]]:
    """One row per authorisation, by region then in recording order: ``until`` is its
    effective end, the earlier of its --until and the day before a deauthorisation."""
    grant = view.grants.get(grant_id)
    if grant is None:
        return []
    rows = []
    for a in sorted(grant.authorisations, key=lambda a: a.region):  # stable: recording order kept
        if region is not None and a.region != region:
            continue
        rows.append({
            "region": a.region,
            "region_name": Region(a.region).name,
            "person": a.person,
            "role": a.role,
            "from": a.valid_from,
            "until": a.until,
            "deauthorised_from": a.ended_from,
            "recorded_on": a.recorded_on,
        })
    return rows
