"""What a compliance check looks at and what it returns: one region-year's facts, and its
findings as data (a code, a sentence with the figures, the money at risk, a severity).
The checks are :mod:`projections.compliance`'s and :mod:`projections.state_checks`'.
"""

from __future__ import annotations

import datetime

import attrs

from ledger.decision import Decision
from ledger.grant import Grant
from ledger.region_year import RegionYear
from ledger.terms import Agreement
from ledger.values import ZERO, Amount

BREACH, RISK, NOTE = "breach", "risk", "note"


@attrs.frozen
class Finding:
    """One thing a check found: a code, a sentence with the figures, and the money it puts at risk."""

    check: str
    message: str
    at_risk: Amount = ZERO
    severity: str = RISK


@attrs.frozen
class YearFacts:
    """What the checks look at: one region-year, its grant and agreement, its decisions, the day."""

    grant: Grant
    region_year: RegionYear
    agreement: Agreement | None
    decisions: list[Decision]
    on: datetime.date

    @property
    def year(self) -> int:
        return self.region_year.year

    @property
    def year_is_over(self) -> bool:
        return self.on > datetime.date(self.year, 12, 31)

    def reports_by_then(self):
        return [r for r in self.region_year.reports if r.filed_on <= self.on]

    def decided_in_year(self) -> list[Decision]:
        return [d for d in self.decisions if d.committed_for(self.year)]
