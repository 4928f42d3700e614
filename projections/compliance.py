"""Compliance: what it takes for a region to keep a year's money.

Each check is a small function of one region-year's facts that returns findings as
data (in the manner of beancount's validation). ``CHECKS`` lists them; adding a rule
is adding a function. The row's `money_at_risk` is what the region could have to
repay if the year stays as it is, plus any shortfall (commitments with no grant money
behind them), with the reasons in words.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from ledger.region_year import RegionYear
from ledger.clock import LATE_AFTER_DAYS, is_late
from ledger.values import ZERO, Amount, Region, plural, total
from projections.balances import FIGURES, year_figures
from projections.findings import BREACH, NOTE, RISK, Finding, YearFacts
from projections.fold import LedgerView
from projections.state_checks import check_carry_over, check_debts, check_requisitions, check_unused_repaid


def report_status(facts: YearFacts) -> str:
    """`due`, `filed-on-time`, `filed-late` or `overdue`, as on the judging day."""
    reports = facts.reports_by_then()
    due = facts.agreement.report_due if facts.agreement else None
    if reports:
        first = min(r.filed_on for r in reports)
        return "filed-late" if due and first > due else "filed-on-time"
    if due and facts.on > due:
        return "overdue"
    return "due"


# --------------------------------------------------------------------------- checks


def check_report_on_time(facts: YearFacts) -> list[Finding]:
    """The yearly report must reach its recipient by the agreement's due date."""
    allocated = facts.region_year.allocated
    if facts.agreement is None:
        return [Finding("report", f"no agreement is signed for {facts.year}: the report's due date is not known", severity=NOTE)]
    due = facts.agreement.report_due.isoformat()
    to = f" to {facts.agreement.report_to}" if facts.agreement.report_to else ""
    status = report_status(facts)
    if status == "due":
        return [Finding("report", f"no report filed, due {due}{to}", allocated, RISK)]
    if status == "overdue":
        return [Finding("report", f"no report filed, was due {due}{to}", allocated, BREACH)]
    if status == "filed-late":
        first = min(r.filed_on for r in facts.reports_by_then()).isoformat()
        return [Finding("report", f"report filed late on {first}, was due {due}", allocated, BREACH)]
    return []


def check_report_content(facts: YearFacts) -> list[Finding]:
    """A filed report covers every purpose money was decided for, and states both involvements;
    it holds what the agreement's --report-asks asks for (measures per purpose, involvement in
    words, continuation, the person responsible)."""
    reports = facts.reports_by_then()
    if not reports:
        return []
    asks = facts.agreement.report_asks if facts.agreement else ()
    covered = {p for r in reports for p in r.covers}
    findings = []
    decided: dict[str, Amount] = {}
    for decision in facts.decided_in_year():
        decided[decision.purpose] = decided.get(decision.purpose, ZERO) + decision.committed_for(facts.year)
    for purpose, amount in sorted(decided.items()):
        if purpose not in covered:
            findings.append(Finding(
                "report-content", f"the report does not cover {purpose}, for which {amount} was decided",
                amount, BREACH))
    if "measures" in asks:
        stated = {p for r in reports for p in r.content.measures}
        for purpose, amount in sorted(decided.items()):
            if purpose in covered and purpose not in stated:
                findings.append(Finding(
                    "report-content", f"the report states no measures for {purpose}, for which {amount} "
                    "was decided (the agreement asks for the measures per purpose)", amount, BREACH))
    for who, flag, how in (("patient-near units", "patient_units", "patient_units_how"),
                           ("employee representatives", "employee_reps", "employee_reps_how")):
        if "involvement" in asks and not any(getattr(r.content, how) for r in reports):
            findings.append(Finding(
                "report-content", f"the report does not describe how {who} were involved (the agreement "
                "asks for it in words; a yes alone is not enough)", severity=BREACH))
        elif not any(getattr(r, flag) for r in reports):
            findings.append(Finding(
                "report-content", f"the report does not state how {who} were involved", severity=BREACH))
    if "continuation" in asks and not any(r.content.continuation for r in reports):
        findings.append(Finding(
            "report-content", "the report does not state how the work continues after the grant "
            "(the agreement asks for it)", severity=BREACH))
    if "responsible" in asks and not any(r.content.responsible for r in reports):
        findings.append(Finding(
            "report-content", "the report does not name who is responsible for the follow-up "
            "(the agreement asks for it)", severity=BREACH))
    return findings


def check_traceability(facts: YearFacts) -> list[Finding]:
    """Every decision by an authorised director, for a purpose of the grant; every booking on its object."""
    findings = []
    grant, year = facts.grant, facts.year
    for d in facts.decided_in_year():
        amount = d.committed_for(year)
        if not grant.is_authorised(d.region, d.decided_by, d.decided_on):
            findings.append(Finding(
                "traceability",
                f"decision {d.decision_id} ({amount}) was taken by {d.decided_by}, "
                f"not authorised on {d.decided_on.isoformat()}", amount, BREACH))
        if d.purpose not in grant.purposes:
            findings.append(Finding(
                "traceability", f"decision {d.decision_id} ({amount}) is for {d.purpose!r}, "
                "not a purpose of the grant", amount, BREACH))
    for d in facts.decisions:
        booked_on = grant.object_for(d.region)
        whose = "the grant's" if d.region not in grant.region_objects else f"{Region(d.region)}'s object"
        if not booked_on:
            continue
        for b in d.live_bookings_off(year, booked_on):
            findings.append(Finding(
                "traceability",
                f"voucher {b.voucher} ({Amount(b.amount)}) is booked on object {b.object}, "
                f"not {whose} {booked_on}", Amount(b.amount), BREACH))
    return findings


def earmarked_used_elsewhere(facts: YearFacts) -> dict[str, Amount]:
    """Per earmarked pot: max(0, pot − decided for its purpose − reserved for it − available)."""
    if facts.agreement is None:
        return {}
    ry = facts.region_year
    used: dict[str, Amount] = {}
    for pot, purpose in facts.agreement.earmarks.items():
        if pot not in ry.allocations:
            continue
        decided = total(d.committed_for(facts.year) for d in facts.decisions if d.purpose == purpose)
        rest = ry.pot_allocated(pot) - decided - ry.reserved_for(purpose) - ry.available
        used[pot] = max(ZERO, rest)
    return used


def check_earmarks(facts: YearFacts) -> list[Finding]:
    """Money earmarked to a purpose must be decided for it, reserved for it, or still uncommitted."""
    findings = []
    for pot, amount in earmarked_used_elsewhere(facts).items():
        if amount:
            purpose = facts.agreement.earmarks[pot]
            findings.append(Finding(
                "earmark",
                f"earmarked money used elsewhere: {amount} of the {facts.region_year.pot_allocated(pot)} "
                f"earmarked for {purpose} (pot {pot})", amount, RISK))
    return findings


def check_year_end(facts: YearFacts) -> list[Finding]:
    """Unspent money at year end must be carried by a decision, reserved, or repaid."""
    if not facts.year_is_over:
        return []
    findings = []
    available = facts.region_year.available
    if available:
        findings.append(Finding(
            "year-end", f"{available} left undecided and unreserved at the end of {facts.year}: "
            "decide, reserve or repay it", available, RISK))
    unbooked = total(d.remaining_for(facts.year) for d in facts.decisions)
    if unbooked:
        findings.append(Finding(
            "year-end", f"{unbooked} decided for {facts.year} is not booked: book the costs, "
            "or amend the decisions to carry it into a later year", severity=NOTE))
    return findings


def check_filed_figures(facts: YearFacts) -> list[Finding]:
    """A filed figure never changes silently: a report whose figures the ledger no longer gives is named."""
    findings = []
    now = year_figures(facts.region_year, facts.decisions)
    for report in facts.reports_by_then():
        changed = [k for k in FIGURES if k in report.figures and Amount(report.figures[k]) != now[k]]
        if changed:
            what = ", ".join(f"{k} {Amount(report.figures[k])} as filed, {now[k]} now" for k in changed)
            findings.append(Finding(
                "filed-report", f"the report filed {report.filed_on.isoformat()} no longer matches the "
                f"ledger: {what} (see grants audit)", severity=NOTE))
    return findings


def check_shortfall(facts: YearFacts) -> list[Finding]:
    """Money committed beyond the year's funds (the state allocated below the planning
    frame the region decided against) has no grant behind it: the shortfall is at risk."""
    ry = facts.region_year
    if not ry.shortfall:
        return []
    reserved = f" and {ry.reserved} reserved" if ry.reserved else ""
    return [Finding(
        "shortfall", f"shortfall of {ry.shortfall}: {ry.committed} committed{reserved} against "
        f"{ry.funds} {_funds_are(ry)}; amend or revoke "
        "decisions, or the region pays the rest itself", ry.shortfall, RISK)]


def _funds_are(ry: RegionYear) -> str:
    if not ry.is_allocated:
        return "in the planning frame"
    return f"kept of {ry.allocated} allocated ({ry.kept_back} reclaimed)" if ry.kept_back else "allocated"


def check_late_decisions(facts: YearFacts) -> list[Finding]:
    """A decision recorded long after its date is one an auditor asks about (a note, no money)."""
    late = [d for d in facts.decisions if is_late(d.decided_on, d.recorded_on)]
    if not late:
        return []
    which = ", ".join(f"{d.decision_id} ({d.decided_on.isoformat()})" for d in late)
    return [Finding("late-recording", f"{plural(len(late), 'decision')} recorded more than {LATE_AFTER_DAYS} "
                    f"days after their date (see grants history): {which}", severity=NOTE)]


def check_late_authorisations(facts: YearFacts) -> list[Finding]:
    """An authorisation for the year recorded long after it took effect is one an auditor asks about."""
    first, last = datetime.date(facts.year, 1, 1), datetime.date(facts.year, 12, 31)
    findings = []
    for a in facts.grant.authorisations_in(facts.region_year.region):
        in_year = (a.valid_from is None or a.valid_from <= last) and (a.until is None or a.until >= first)
        if in_year and is_late(a.valid_from, a.recorded_on):
            findings.append(Finding(
                "late-recording", f"the authorisation of {a.person} from {a.valid_from.isoformat()} was "
                f"recorded more than {LATE_AFTER_DAYS} days after it took effect (see grants authorisations)",
                severity=NOTE))
    return findings


CHECKS: list[Callable[[YearFacts], list[Finding]]] = [
    check_debts,
    check_shortfall,
    check_report_on_time,
    check_report_content,
    check_traceability,
    check_earmarks,
    check_requisitions,
    check_unused_repaid,
    check_carry_over,
    check_year_end,
    check_filed_figures,
    check_late_authorisations,
    check_late_decisions,
]


def judge(facts: YearFacts) -> dict[str, Any]:
    """Run every check on one region-year and sum up: status, money at risk and why."""
    findings = [f for check in CHECKS for f in check(facts)]
    ry = facts.region_year
    risky = [f for f in findings if f.at_risk]
    # at most the allocation is at risk of repayment, and the shortfall beyond it
    at_risk = min(ry.allocated + ry.shortfall, total(f.at_risk for f in risky)) if risky else ZERO
    if any(f.severity == BREACH for f in findings):
        status = "non-compliant"
    elif at_risk or any(f.severity == RISK for f in findings):
        status = "at-risk"
    else:
        status = "ok"
    used = earmarked_used_elsewhere(facts)
    return {
        "region": ry.region,
        "region_name": Region(ry.region).name,
        "year": ry.year,
        "report_due": facts.agreement.report_due if facts.agreement else None,
        "report_status": report_status(facts),
        "earmarked_used_elsewhere": total(used.values()),
        "money_at_risk": at_risk,
        "owed": total(Amount(d.owed_on(facts.on)) for d in ry.debts.values()),
        "interest": total(Amount(d.interest(facts.on)) for d in ry.debts.values()),
        "risk_reason": "; ".join(f"{f.at_risk} at risk: {f.message}" for f in risky),
        "status": status,
        "findings": [f.message for f in findings],
        "judged_on": facts.on,
    }


def compliance_rows(view: LedgerView, grant_id: str, on: datetime.date,
                    region: str | None = None, year: int | None = None) -> list[dict[str, Any]]:
    grant = view.grants.get(grant_id)
    if grant is None:
        return []
    by_region = view.decisions_by_region(grant_id)
    rows = []
    for ry in view.years_of(grant_id, region, year):
        facts = YearFacts(
            grant=grant,
            region_year=ry,
            agreement=grant.agreements.get(ry.year),
            decisions=[d for d in by_region.get(ry.region, ()) if ry.year in d.years],
            on=on,
        )
        rows.append(judge(facts))
    return rows
