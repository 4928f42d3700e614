"""The rules that span aggregates, each in one function.

An aggregate owns the rules about its own state; a few rules need two: a decision's
purpose and years must be the grant's and its decider authorised by the grant on the
decision's date; a booking or reversal needs its region-year open; a reservation's
purpose and a report's covered purposes must be the grant's. Each such rule is one
function here, called by the application service before it records and by `verify` and
`import` (:mod:`projections.verify`) as they re-check a stored event, so the two can
never disagree.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from ledger.decision import Decision
from ledger.errors import Refused
from ledger.grant import Grant
from ledger.terms import Agreement
from ledger.region_year import RegionYear


def may_decide(grant: Grant, region: str, decided_by: str, on: datetime.date, purpose: str,
               years: Iterable[int]) -> str:
    """A new decision: a purpose and years of the grant, by a person the grant authorises for
    the region on that day. Returns the decider's name as authorised (what is stored)."""
    grant.check_purpose(purpose)
    for year in years:
        grant.check_year(year)
    return grant.check_decider(region, decided_by, on)


def may_change(grant: Grant, decision: Decision, decided_by: str, on: datetime.date,
               years: Iterable[int] = ()) -> str:
    """An amendment (with its new years) or a revocation: years of the grant, by a person
    authorised for the decision's region on that day. Returns the name as authorised."""
    for year in years:
        grant.check_year(year)
    return grant.check_decider(decision.region, decided_by, on)


def may_book(region_year: RegionYear | None, doing: str) -> None:
    """A booking or reversal on a decision: the year it belongs to is not closed (a year
    nothing was recorded for yet is open)."""
    if region_year is not None:
        region_year.check_open(doing)


def may_requisition(grant: Grant, year: int, pot: str, on: datetime.date) -> None:
    """A requisition: of a pot of the year's agreement, dated by the agreement's
    --requisition-by (money not requisitioned by then has lapsed)."""
    agreement = grant.check_pot(year, pot)
    if agreement.requisition_by is not None and on > agreement.requisition_by:
        raise Refused(f"money of {grant.grant_id} {year} not requisitioned by "
                      f"{agreement.requisition_by.isoformat()} has lapsed; cannot requisition it on "
                      f"{on.isoformat()}")


def carries_over(grant: Grant, year: int) -> bool:
    """Whether the year's bookings may be dated in the next year: when its agreement states a
    carry-over term (allowed, or not allowed: then compliance judges what was carried over)."""
    agreement = grant.agreements.get(year)
    return agreement is not None and agreement.carry_over != ""


def may_reclaim(grant: Grant, year: int) -> None:
    """A reclaim (and what settles it): a year of the grant with a signed agreement."""
    grant.check_year(year)
    grant.agreement(year)


def may_reserve(grant: Grant, year: int, purpose: str) -> None:
    """A reservation: a year and a purpose of the grant."""
    grant.check_year(year)
    grant.check_purpose(purpose)


def may_report(grant: Grant, year: int, covers: Iterable[str]) -> Agreement:
    """A report: for a year with an agreement, covering purposes of the grant. Returns the
    year's agreement (whose recipient a report goes to by default)."""
    agreement = grant.agreement(year)
    for purpose in covers:
        grant.check_purpose(purpose)
    return agreement
