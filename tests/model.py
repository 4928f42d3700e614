"""The reference model: domain.md's balance rules written again, small and independently of
the ledger's code, for the state machines to hold the ledger to (tests/rules)."""

from __future__ import annotations

import datetime

D = datetime.date(2017, 6, 1)
DECIDED = datetime.date(2016, 1, 1)  # before every booking: a booking is never dated before its decision
REGIONS = ["23", "01"]
YEARS = [2016, 2017, 2018]
POTS = ["stim", "nse"]
PURPOSES = ["it", "nse"]


class YearModel:
    """The reference model of one region-year, written from domain.md alone."""

    def __init__(self) -> None:
        self.alloc: dict[str, int] = {}
        self.repaid: dict[str, int] = {}
        self.reqs: dict[str, int] = {}
        self.paid: dict[str, int] = {}  # what the payer paid out, per pot
        self.frame: int | None = None
        self.reserved: dict[str, int] = {}
        self.commit: dict[str, int] = {}
        self.closed = False
        self.refs: dict[str, tuple] = {}  # ref -> (kind, pot or purpose, amount): what it recorded
        # the state's reclaims: ref -> [reclaimed, repaid, waived] (principal, no interest here)
        self.debts: dict[str, list[int]] = {}

    def allocated(self) -> int:
        return sum(self.alloc.values()) - sum(self.repaid.values())

    def kept_back(self) -> int:
        """What reclaims take out of what the region keeps: reclaimed less waived."""
        return sum(d[0] - d[2] for d in self.debts.values())

    def funds(self) -> int:
        if self.alloc:
            return self.allocated() - self.kept_back()
        return self.frame or 0

    def headroom(self) -> int:
        return self.funds() - sum(self.commit.values()) - sum(self.reserved.values())

    def pot_alloc(self, pot: str) -> int:
        return self.alloc.get(pot, 0) - self.repaid.get(pot, 0)

    def pot_req(self, pot: str) -> int:
        return min(self.reqs.get(pot, 0), self.pot_alloc(pot))

    def can_raise(self, increase: int) -> bool:
        """A new commitment or reservation: open year, no shortfall, within available."""
        return not self.closed and self.headroom() >= 0 and increase <= self.headroom()

    def can_commit(self, purpose: str, increase: int) -> bool:
        """A commitment draws first on what is reserved for its purpose, then on available."""
        rest = increase - min(increase, self.reserved.get(purpose, 0))
        return not self.closed and (rest == 0 or self.can_raise(rest))


class DecisionModel:
    def __init__(self, region: str, purpose: str, schedule: dict[int, int]) -> None:
        self.region = region
        self.purpose = purpose
        self.schedule = dict(schedule)
        self.revoked = False
        self.spent: dict[int, int] = {}
        self.last_amendment: dict[int, int] | None = None

    def committed(self, year: int) -> int:
        return self.spent.get(year, 0) if self.revoked else self.schedule.get(year, 0)


def commitments_may_move(years: dict[tuple[str, int], YearModel], region: str, purpose: str,
                         new: dict[int, int], old: dict[int, int]) -> bool:
    """Whether a decision's yearly commitments in a region may move from old to new: every
    year whose commitment changes is open, and every increase can be committed."""
    for year in set(new) | set(old):
        before, after = old.get(year, 0), new.get(year, 0)
        if after == before:
            continue
        ym = years[(region, year)]
        if ym.closed:
            return False
        if after > before and not ym.can_commit(purpose, after - before):
            return False
    return True


def move_commitments(years: dict[tuple[str, int], YearModel], did: str, region: str, purpose: str,
                     new: dict[int, int]) -> None:
    """A decision's yearly commitments in a region set to new; an increase draws first on what
    is reserved for its purpose."""
    for year in YEARS:
        ym = years[(region, year)]
        before, after = ym.commit.get(did, 0), new.get(year, 0)
        if after > before:
            drawn = min(after - before, ym.reserved.get(purpose, 0))
            if drawn:
                ym.reserved[purpose] -= drawn
        if after:
            ym.commit[did] = after
        else:
            ym.commit.pop(did, None)
