"""The checks of the state's terms and money: requisition deadlines (lapsed money), unused
money not repaid by its deadline, carry-over where not allowed, and debts from reclaims.
Listed in :data:`projections.compliance.CHECKS` with the rest.
"""

from __future__ import annotations

from ledger.values import ZERO, Amount, total
from projections.balances import spent
from projections.findings import BREACH, RISK, Finding, YearFacts


def check_requisitions(facts: YearFacts) -> list[Finding]:
    """Every allocated pot should be requisitioned: by the agreement's --requisition-by, or
    the money has lapsed; without one, by the year's end, or the right may lapse."""
    deadline = facts.agreement.requisition_by if facts.agreement else None
    if deadline is None and not facts.year_is_over or deadline is not None and facts.on <= deadline:
        return []
    ry = facts.region_year
    findings = []
    for pot in ry.allocations:
        missing = ry.pot_allocated(pot) - ry.pot_requisitioned(pot)
        if missing and deadline is not None:
            findings.append(Finding(
                "lapsed", f"{missing} of pot {pot} lapsed: not requisitioned by {deadline.isoformat()}",
                missing, RISK))
        elif missing:
            findings.append(Finding(
                "requisition", f"{missing} of pot {pot} was not requisitioned by the end of {facts.year}",
                missing, RISK))
    return findings


def unused(facts: YearFacts) -> Amount:
    """The year's money the region keeps (after repayments and reclaims) and did not spend."""
    return max(ZERO, facts.region_year.funds - spent(facts.year, facts.decisions))


def check_unused_repaid(facts: YearFacts) -> list[Finding]:
    """Money unused at the year's end must be repaid by the agreement's --repay-unused-by."""
    deadline = facts.agreement.repay_unused_by if facts.agreement else None
    if deadline is None or facts.on <= deadline or not facts.region_year.is_allocated:
        return []
    left = unused(facts)
    if not left:
        return []
    return [Finding("unused", f"{left} unused was not repaid by {deadline.isoformat()}: repay it, "
                    "or the state reclaims it", left, BREACH)]


def check_carry_over(facts: YearFacts) -> list[Finding]:
    """The year's money used in the next year (bookings for it dated then) needs an
    agreement that allows carry-over."""
    if facts.agreement is None or facts.agreement.carry_over != "not-allowed":
        return []
    carried = total(d.carried_over(facts.year) for d in facts.decisions)
    if not carried:
        return []
    return [Finding("carry-over", f"{carried} of {facts.year}'s money was used in {facts.year + 1}, "
                    "though the agreement does not allow carry-over", carried, BREACH)]


def check_debts(facts: YearFacts) -> list[Finding]:
    """A reclaim is a debt of the region: at risk until it is due, a breach while it is owed
    after that (its principal or its interest), until repaid or waived."""
    findings = []
    for debt in facts.region_year.debts.values():
        owed, interest = Amount(debt.owed_on(facts.on)), Amount(debt.interest(facts.on))
        if facts.on < debt.decided_on or not (owed or interest):
            continue
        what = f"reclaim {debt.ref} ({debt.ground}, decided {debt.decided_on.isoformat()})"
        sums = " and ".join(([f"{owed}"] if owed else []) + ([f"{interest} interest"] if interest else []))
        if facts.on <= debt.interest_from:
            findings.append(Finding("debt", f"{sums} owed to the state, due {debt.interest_from.isoformat()}: "
                                    f"{what}", owed, RISK))
        else:
            findings.append(Finding("debt", f"{sums} owed to the state since "
                                    f"{debt.interest_from.isoformat()}: {what}", owed, BREACH))
    return findings
