"""The application service's commands for the state's reclaims: load the region-year,
ask it to act (:mod:`ledger.reclaims` checks the rules), save it.

Mixed into :class:`ledger.application.GrantLedger`, which provides ``grant``,
``region_year``, ``today`` and ``save``.
"""

from __future__ import annotations

import datetime
from typing import Any

from ledger import rules
from ledger.persistence import retried
from ledger.values import Amount


class Reclaiming:
    """Reclaim, settle, waive, and change a reclaim's interest rate."""

    def _year_for_reclaim(self: Any, grant_id: str, region: str, year: int, recorded_by: str) -> Any:
        rules.may_reclaim(self.grant(grant_id), year)
        return self.region_year(grant_id, region, year, recorded_by)

    def _saved(self: Any, region_year: Any, recorded: bool) -> bool:
        if recorded:
            self.save(region_year)
        return recorded

    @retried
    def reclaim(self: Any, grant_id: str, region: str, year: int, amount: Amount, decided_on: datetime.date,
                ground: str, ref: str, recorded_by: str, due: datetime.date | None = None,
                rate: str = "") -> bool:
        """Record the paying authority's reclaim of a region-year's money (a debt of the region)."""
        region_year = self._year_for_reclaim(grant_id, region, year, recorded_by)
        return self._saved(region_year, region_year.reclaim(ref, ground, amount, decided_on, due, rate,
                                                            recorded_by, today=self.today()))

    @retried
    def set_reclaim_rate(self: Any, grant_id: str, region: str, year: int, reclaim: str | None, rate: str,
                         applies_from: datetime.date, ref: str, recorded_by: str) -> bool:
        """Record the interest rate a reclaim bears from a day on."""
        region_year = self._year_for_reclaim(grant_id, region, year, recorded_by)
        return self._saved(region_year, region_year.set_rate(reclaim, rate, applies_from, ref, recorded_by))

    @retried
    def settle(self: Any, grant_id: str, region: str, year: int, reclaim: str | None, amount: Amount,
               on: datetime.date, ref: str, recorded_by: str) -> bool:
        """Record a repayment against a reclaim (principal first, then interest)."""
        region_year = self._year_for_reclaim(grant_id, region, year, recorded_by)
        return self._saved(region_year, region_year.settle(reclaim, amount, on, ref, recorded_by,
                                                           today=self.today()))

    @retried
    def waive(self: Any, grant_id: str, region: str, year: int, reclaim: str | None, amount: Amount,
              on: datetime.date, reason: str, ref: str, recorded_by: str, interest: bool = False) -> bool:
        """Record a waiver (eftergift) of a reclaim's principal, or of its interest."""
        region_year = self._year_for_reclaim(grant_id, region, year, recorded_by)
        return self._saved(region_year, region_year.waive(reclaim, amount, interest, on, reason, ref,
                                                          recorded_by, today=self.today()))
