"""The state's side of a region-year, as rows: each reclaim and what settled it, and the
year-end statement (what a controller hands the accountants).

Pure folds over the region-years a view holds (the fold's, as of any cut, or the read
models' for now), like the other projections.
"""

from __future__ import annotations

import datetime
from typing import Any

from ledger.values import ZERO, Amount, Region
from projections.balances import spent
from projections.fold import LedgerView


def reclaim_rows(view: LedgerView, grant_id: str, on: datetime.date, region: str | None = None,
                 year: int | None = None) -> list[dict[str, Any]]:
    """One row per reclaim: its decision, ground and terms, and as of ``on`` what was
    repaid, waived and is owed, with the interest accrued and unpaid."""
    rows = []
    for ry in view.years_of(grant_id, region, year):
        for d in ry.debts.values():
            settled = d.settled_by(on)
            rows.append({
                "region": ry.region, "region_name": Region(ry.region).name, "year": ry.year,
                "reclaim": d.ref, "ground": d.ground, "decided_on": d.decided_on, "due": d.due,
                "interest_from": d.interest_from, "rate": d.rates[-1][1] if d.rates else "",
                "reclaimed": Amount(d.amount),
                "repaid": Amount(sum(s.principal for s in settled if s.kind == "repaid")),
                "waived": Amount(sum(s.principal for s in settled if s.kind == "waived")),
                "owed": Amount(d.owed_on(on)),
                "interest_paid": Amount(sum(s.interest for s in settled if s.kind == "repaid")),
                "interest_waived": Amount(sum(s.interest for s in settled if s.kind == "waived")),
                "interest": Amount(d.interest(on)),
                "on": on,
            })
    return rows


def year_end_rows(view: LedgerView, grant_id: str, region: str | None = None,
                  year: int | None = None) -> list[dict[str, Any]]:
    """Per region-year: money paid out to the region and what became of it, and the part
    that is a liability to the state at the year's end (förutbetald intäkt, RKR R2): paid
    but neither spent nor decided nor repaid (nor reclaimed, which is owed instead)."""
    by_region = view.decisions_by_region(grant_id)
    rows = []
    for ry in view.years_of(grant_id, region, year):
        used = spent(ry.year, by_region.get(ry.region, ()))
        decided = max(ry.committed, used)
        prepaid = max(ZERO, ry.paid - decided - ry.repaid - ry.kept_back)
        rows.append({
            "region": ry.region, "region_name": Region(ry.region).name, "year": ry.year,
            "paid": ry.paid, "spent": used, "decided": decided, "repaid": ry.repaid,
            "reclaimed": ry.reclaimed, "waived": ry.waived, "owed": ry.owed,
            "prepaid_income": prepaid,
        })
    return rows
