"""Each stored event re-checked by the rule that owns it: the re-check of every event class.

A re-check runs the owning aggregate's guard method on the state before the event (and
the cross-aggregate rules of :mod:`ledger.rules`), and returns the aggregate that now
holds the event (a new one for a creation event). :mod:`projections.verify` runs them
for `verify` and `import`.
"""

from __future__ import annotations
from collections.abc import Callable
from typing import Any

import attrs

from ledger import rules
from ledger.region_year import RegionYear
from ledger.clock import recorded_day
from ledger.decision import Decision
from ledger.voucher import Voucher, index_key
from ledger.events import CATALOGUE
from ledger.grant import Grant
from ledger.terms import Agreement, DecisionTerms, ReportContent, from_stored
from ledger.values import Amount
from projections.fold import LedgerView


class HistoryError(Exception):
    """The history breaks a rule or its own order; the message names the position."""


def _day(event: Any):
    """The day an event was recorded: its date rules are checked against it."""
    return recorded_day(event.timestamp)


def _schedule(pairs: list) -> dict[int, Amount]:
    return {int(y): Amount(a) for y, a in pairs}


def _grant(view: LedgerView, grant_id: str) -> Grant:
    grant = view.grants.get(grant_id)
    if grant is None:
        raise HistoryError(f"grant {grant_id!r} is used before it is defined")
    return grant


# Each re-check runs the owning aggregate's guard method on the state before the event.
# It returns the aggregate that now holds the event (a new one for creation events).

def _grant_defined(view, agg, e):
    return Grant.define(e.grant_id, e.name, e.first_year, e.last_year, e.purposes, e.category,
                        e.accounting_object, e.recorded_by)


def _agreement_signed(view, agg, e):
    agg.sign_agreement(from_stored(Agreement, e), e.recorded_by)
    return agg


def _agreement_amended(view, agg, e):
    current = agg.agreement(e.year)
    agg.sign_agreement(attrs.evolve(current, signed_on=e.amended_on, report_due=e.report_due,
                                    requisition_by=e.requisition_by, repay_unused_by=e.repay_unused_by,
                                    carry_over=e.carry_over, report_asks=e.report_asks), e.recorded_by)
    return agg


def _region_object_set(view, agg, e):
    agg.set_region_object(e.region, e.object, e.recorded_by)
    return agg


def _decider_authorised(view, agg, e):
    agg.authorise(e.region, e.person, e.role, e.valid_from, e.valid_until, e.recorded_by)
    return agg


def _decider_deauthorised(view, agg, e):
    agg.deauthorise(e.region, e.person, e.ends_from, e.recorded_by)
    return agg


def _pot_allocated(view, agg, e):
    agg.allocate(e.year, e.pot, {r: Amount(a) for r, a in e.shares}, e.recorded_by)
    return agg


def _region_year_opened(view, agg, e):
    _grant(view, e.grant_id).check_year(e.year)
    return RegionYear(grant_id=e.grant_id, region=e.region, year=e.year, recorded_by=e.recorded_by)


def _allocated(view, agg, e):
    _grant(view, agg.grant_id).check_pot(agg.year, e.pot)
    agg.allocate(e.pot, Amount(e.amount), e.source, e.recorded_by)
    return agg


# A /v1 money event was recorded before refs were unique (a frame, before a repeat of
# the same frame recorded nothing): it is re-checked by the aggregate's balance rules only.

def _frame_set(view, agg, e):
    if isinstance(e, RegionYear.PlanningFrameSet):
        agg.recheck_frame_v1(Amount(e.amount), e.on, e.recorded_by)
    else:
        agg.set_frame(Amount(e.amount), e.on, e.recorded_by, e.ref)
    return agg


def _requisitioned(view, agg, e):
    rules.may_requisition(view.grants[agg.grant_id], agg.year, e.pot, e.on)
    if isinstance(e, RegionYear.Requisitioned):
        agg.recheck_requisition_v1(e.pot, Amount(e.amount), e.on, e.ref, e.recorded_by)
    else:
        agg.requisition(e.pot, Amount(e.amount), e.on, e.ref, e.recorded_by)
    return agg


def _commitment_set(view, agg, e):
    decision = view.decisions.get((agg.grant_id, e.decision_id))
    if decision is None or decision.committed_for(agg.year) != Amount(e.amount):
        raise HistoryError(f"the commitment of decision {e.decision_id} for {agg.year} does not "
                           "match the decision")
    agg.set_commitment(e.decision_id, e.purpose, Amount(e.amount), e.on, e.recorded_by)
    return agg


def _reserved(view, agg, e):
    rules.may_reserve(_grant(view, agg.grant_id), agg.year, e.purpose)
    if isinstance(e, RegionYear.Reserved):
        agg.recheck_reserve_v1(e.purpose, Amount(e.amount), e.on, e.recorded_by)
    else:
        agg.reserve(e.purpose, Amount(e.amount), e.on, e.ref, e.recorded_by)
    return agg


def _repaid(view, agg, e):
    if isinstance(e, RegionYear.Repaid):
        agg.recheck_repay_v1(e.pot, Amount(e.amount), e.on, e.ref, e.recorded_by)
    else:
        agg.repay(e.pot, Amount(e.amount), e.on, e.ref, e.recorded_by)
    return agg


def _paid(view, agg, e):
    agg.pay(e.pot, Amount(e.amount), e.on, e.ref, e.recorded_by)
    return agg


def _report_filed(view, agg, e):
    rules.may_report(_grant(view, agg.grant_id), agg.year, e.covers)
    content = from_stored(ReportContent, e) if isinstance(e, RegionYear.ReportFiledWithContent) else None
    agg.file_report(e.filed_on, e.to, e.covers, e.patient_units, e.employee_reps, e.ref,
                    e.recorded_by, {k: Amount(v) for k, v in e.figures.items()}, e.position,
                    e.digest, today=_day(e), content=content)
    return agg


def _year_closed(view, agg, e):
    agg.close(e.on, e.recorded_by)
    return agg


def _year_reopened(view, agg, e):
    agg.reopen(e.on, e.reason, e.recorded_by)
    return agg


def _decided(view, agg, e):
    rules.may_decide(_grant(view, e.grant_id), e.region, e.decided_by, e.decided_on, e.purpose,
                     (int(year) for year, _ in e.schedule))
    return Decision.decide(e.grant_id, e.decision_id, e.region, from_stored(DecisionTerms, e), e.recorded_by,
                           today=_day(e))


def _amended(view, agg, e):
    rules.may_change(_grant(view, agg.grant_id), agg, e.decided_by, e.on, (int(year) for year, _ in e.schedule))
    agg.amend(_schedule(e.schedule), e.decided_by, e.on, e.reason, e.recorded_by, today=_day(e))
    return agg


def _revoked(view, agg, e):
    rules.may_change(_grant(view, agg.grant_id), agg, e.decided_by, e.on)
    agg.revoke(e.decided_by, e.on, e.reason, e.recorded_by, today=_day(e))
    return agg


def _spent(view, agg, e):
    rules.may_book(view.region_years.get((agg.grant_id, agg.region, e.year)), "book costs")
    agg.spend(e.voucher, e.year, Amount(e.amount), e.booked_on, e.object, e.text, e.recorded_by,
              today=_day(e), carry_over=rules.carries_over(view.grants[agg.grant_id], e.year))
    return agg


def _credited(view, agg, e):
    rules.may_book(view.region_years.get((agg.grant_id, agg.region, e.year)), "book costs")
    agg.spend(e.voucher, e.year, Amount(-e.amount), e.booked_on, e.object, e.text, e.recorded_by,
              today=_day(e), carry_over=rules.carries_over(view.grants[agg.grant_id], e.year))
    return agg


def _reversed(view, agg, e):
    booking = agg.booking(e.voucher)
    rules.may_book(view.region_years.get((agg.grant_id, agg.region, booking.year)), "reverse a booking")
    agg.reverse(e.voucher, e.on, e.reason, e.recorded_by, today=_day(e))
    return agg


def _reclaimed(view, agg, e):
    rules.may_reclaim(view.grants[agg.grant_id], agg.year)
    agg.reclaim(e.ref, e.ground, Amount(e.amount), e.decided_on, e.due, e.rate, e.recorded_by, today=_day(e))
    return agg


def _reclaim_rate_set(view, agg, e):
    agg.set_rate(e.reclaim, e.rate, e.applies_from, e.ref, e.recorded_by)
    return agg


def _reclaim_repaid(view, agg, e):
    debt = agg.debt(e.reclaim)
    if debt.split(e.amount) != (e.principal, e.interest):
        raise HistoryError(f"the repayment {e.ref} against reclaim {e.reclaim} splits {e.amount} öre "
                           f"other than the ledger does ({debt.split(e.amount)})")
    agg.settle(e.reclaim, Amount(e.amount), e.on, e.ref, e.recorded_by, today=_day(e))
    return agg


def _reclaim_waived(view, agg, e):
    if (e.principal == 0) == (e.interest == 0):
        raise HistoryError(f"the waiver {e.ref} of reclaim {e.reclaim} waives principal or interest, not both or none")
    agg.waive(e.reclaim, Amount(e.principal or e.interest), bool(e.interest), e.on, e.reason, e.ref,
              e.recorded_by, today=_day(e))
    return agg


def _voucher_registered(view, agg, e):
    decision = view.decisions.get((e.grant_id, e.decision_id))
    region, _, voucher = e.voucher.partition("/")  # REGION/VOUCHER, or a grant-wide key of before
    booked = decision is not None and (decision.has_voucher(e.voucher) or (
        e.voucher == index_key(region, voucher) and region == decision.region and decision.has_voucher(voucher)))
    if not booked:
        raise HistoryError(f"voucher {e.voucher} is registered without its booking")
    return Voucher(grant_id=e.grant_id, voucher=e.voucher, decision_id=e.decision_id,
                   recorded_by=e.recorded_by)


# the re-check of each stored event class (a /v1 and its /v2 share one, which tells them apart)
RECHECKS: dict[type, Callable[[LedgerView, Any, Any], Any]] = {
    Grant.Defined: _grant_defined,
    Grant.AgreementSigned: _agreement_signed,
    Grant.AgreementSignedWithTerms: _agreement_signed,
    Grant.AgreementAmended: _agreement_amended,
    Grant.DeciderAuthorised: _decider_authorised,
    Grant.RegionObjectSet: _region_object_set,
    Grant.DeciderDeauthorised: _decider_deauthorised,
    Grant.PotAllocated: _pot_allocated,
    RegionYear.Opened: _region_year_opened,
    RegionYear.Allocated: _allocated,
    RegionYear.PlanningFrameSet: _frame_set,
    RegionYear.PlanningFrameSetWithRef: _frame_set,
    RegionYear.Requisitioned: _requisitioned,
    RegionYear.RequisitionedWithRef: _requisitioned,
    RegionYear.CommitmentSet: _commitment_set,
    RegionYear.Reserved: _reserved,
    RegionYear.ReservedWithRef: _reserved,
    RegionYear.Repaid: _repaid,
    RegionYear.RepaidWithRef: _repaid,
    RegionYear.ReportFiled: _report_filed,
    RegionYear.ReportFiledWithContent: _report_filed,
    RegionYear.YearClosed: _year_closed,
    RegionYear.YearReopened: _year_reopened,
    Decision.Decided: _decided,
    Decision.Amended: _amended,
    Decision.Revoked: _revoked,
    RegionYear.Paid: _paid,
    RegionYear.Reclaimed: _reclaimed,
    RegionYear.ReclaimRateSet: _reclaim_rate_set,
    RegionYear.ReclaimRepaid: _reclaim_repaid,
    RegionYear.ReclaimWaived: _reclaim_waived,
    Decision.Spent: _spent,
    Decision.Credited: _credited,
    Decision.Reversed: _reversed,
    Voucher.Registered: _voucher_registered,
}
assert set(RECHECKS) == set(CATALOGUE.values())
CREATIONS = (Grant.Defined, RegionYear.Opened, Decision.Decided, Voucher.Registered)
