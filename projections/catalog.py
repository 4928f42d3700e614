"""Finding your way: every grant, a grant's decisions, one decision and one grant in full.

Pure functions over aggregates (a :class:`~projections.fold.LedgerView`, or one decision
with its own events): the figures are the aggregates' own (``committed_for``,
``spent_for``...), so nothing here restates a rule. ``grants list`` and ``grants show``
print what these return.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ledger.values import Amount, Region, total
from projections.authority import authorisation_rows

if TYPE_CHECKING:  # annotations only: listing the grants needs no decision, region-year or event class
    from ledger.decision import Decision
    from ledger.grant import Grant
    from projections.fold import Entry, LedgerView
    from projections.lookup import Grants


def _regions_of(view: LedgerView | Grants, grant: Grant) -> list[str]:
    """The regions with anything recorded for a grant: a region-year (an allocation, a
    frame, a decision's commitment...), an authorisation or an accounting object of its own."""
    found = {r for (g, r, _) in view.region_years if g == grant.grant_id}
    found |= {a.region for a in grant.authorisations} | set(grant.region_objects)
    return sorted(found)


def grant_rows(view: LedgerView | Grants) -> list[dict[str, Any]]:
    """One row per grant, by id: name, period, how many purposes, the years with an agreement
    and the regions with anything recorded."""
    return [{
        "grant": grant.grant_id, "name": grant.name, "period": f"{grant.first_year}-{grant.last_year}",
        "first_year": grant.first_year, "last_year": grant.last_year, "purposes": len(grant.purposes),
        "agreements": sorted(grant.agreements), "regions": _regions_of(view, grant),
    } for grant in sorted(view.grants.values(), key=lambda g: g.grant_id)]


def decision_rows(view: LedgerView, grant_id: str, region: str | None = None, year: int | None = None,
                  purpose: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """One row per decision of the grant, by region and id: who decided what and when, and its
    amount, spent and remaining over all its years (with ``year``, that year's, and only the
    decisions with money in it)."""
    rows = []
    for d in view.grant_decisions(grant_id, region):
        if (purpose is not None and d.purpose != purpose) or (status is not None and d.status != status):
            continue
        if year is not None and year not in d.years:
            continue
        years = [year] if year is not None else d.years
        rows.append({
            "decision": d.decision_id, "region": d.region, "region_name": Region(d.region).name,
            "decided_by": d.decided_by, "decided_on": d.decided_on, "purpose": d.purpose, "area": d.area,
            "activity": d.activity, "years": d.years,
            "amount": total(d.committed_for(y) for y in years), "spent": total(d.spent_for(y) for y in years),
            "remaining": total(d.remaining_for(y) for y in years), "status": d.status,
        })
    rows.sort(key=lambda r: (r["region"], r["decision"]))
    return rows


def _recorded(entry: Entry) -> dict[str, Any]:
    return {"position": entry.position, "recorded_at": entry.recorded_at, "recorded_by": entry.recorded_by}


def _schedule(pairs: Iterable[tuple[int, int]]) -> list[dict[str, Any]]:
    return [{"year": int(y), "amount": Amount(int(a))} for y, a in pairs]


def decision_detail(decision: Decision, entries: list[Entry], grant: Grant | None = None) -> dict[str, Any]:
    """One decision in full: its terms, each year's amount, spent and remaining, its
    amendments and revocation, every booking, credit and reversal, and its events in
    recording order (``entries``: the decision's own events, with their positions)."""
    from ledger.decision import Decision
    from projections.history import effective_date, event_type, summary

    d = decision
    amendments: list[dict[str, Any]] = []
    revocation: dict[str, Any] | None = None
    bookings: dict[str, dict[str, Any]] = {}
    events = []
    for entry in entries:
        e = entry.event
        row = {**_recorded(entry), "type": event_type(e), "effective": effective_date(e), "year": None,
               "voucher": None, "object": None, "amount": None, "reason": None,
               "summary": summary(e, d)}
        if isinstance(e, Decision.Decided):
            row["amount"] = Amount(sum(int(a) for _, a in e.schedule))
        elif isinstance(e, Decision.Amended):
            amendments.append({**_recorded(entry), "decided_by": e.decided_by, "on": e.on, "reason": e.reason,
                               "schedule": _schedule(e.schedule),
                               "total": Amount(sum(int(a) for _, a in e.schedule))})
            row.update(amount=amendments[-1]["total"], reason=e.reason)
        elif isinstance(e, Decision.Revoked):
            revocation = {**_recorded(entry), "decided_by": e.decided_by, "on": e.on, "reason": e.reason}
            row["reason"] = e.reason
        elif isinstance(e, (Decision.Spent, Decision.Credited)):
            amount = Amount(e.amount if isinstance(e, Decision.Spent) else -e.amount)
            bookings[e.voucher] = {
                "voucher": e.voucher, "year": e.year, "kind": "cost" if amount.ore > 0 else "credit",
                "amount": amount, "booked_on": e.booked_on, "object": e.object, "text": e.text,
                **_recorded(entry), "reversed_on": None, "reversal_reason": None, "reversal_position": None,
            }
            row.update(year=e.year, voucher=e.voucher, object=e.object, amount=amount)
        elif isinstance(e, Decision.Reversed):
            booking = bookings[e.voucher]
            booking.update(reversed_on=e.on, reversal_reason=e.reason, reversal_position=entry.position)
            row.update(year=booking["year"], voucher=e.voucher, object=booking["object"],
                       amount=-booking["amount"], reason=e.reason)
        events.append(row)
    return {
        "grant": d.grant_id, "decision": d.decision_id, "region": d.region, "region_name": Region(d.region).name,
        "decided_by": d.decided_by, "decided_on": d.decided_on, "area": d.area, "activity": d.activity,
        "purpose": d.purpose, "purpose_text": grant.purposes.get(d.purpose) if grant else None,
        "continuation": d.continuation, "ref": d.ref, "status": d.status,
        "amount": total(d.committed_for(y) for y in d.years), "spent": total(d.spent_for(y) for y in d.years),
        "remaining": total(d.remaining_for(y) for y in d.years),
        "schedule": [{"year": y, "granted": d.granted_for(y), "amount": d.committed_for(y), "spent": d.spent_for(y),
                      "remaining": d.remaining_for(y)} for y in d.years],
        "amendments": amendments, "revocation": revocation, "bookings": list(bookings.values()), "events": events,
    }


def grant_detail(view: LedgerView | Grants, grant_id: str) -> dict[str, Any]:
    """One grant in full: its period and purposes, each agreement year's terms (with the
    amendment's date), pots, earmarks and what was allocated of each pot, who may decide
    (until each authorisation's effective end), the regions' own accounting objects and the
    regions with anything recorded (``view`` holds the grant and its region-years)."""
    g = view.grants[grant_id]
    agreements = []
    for year in sorted(g.agreements):
        a = g.agreements[year]
        pots = [{"pot": pot, "amount": Amount(amount), "earmark": a.earmarks.get(pot),
                 "allocated": g.allocated_from(year, pot), "unallocated": Amount(amount) - g.allocated_from(year, pot)}
                for pot, amount in a.pots.items()]
        agreements.append({
            "year": year, "signed_on": a.signed_on, "amended_on": a.amended_on, "payer": a.payer,
            "report_to": a.report_to, "report_due": a.report_due, "population_date": a.population_date,
            "ref": a.ref, "requisition_by": a.requisition_by, "repay_unused_by": a.repay_unused_by,
            "carry_over": a.carry_over or None, "report_asks": list(a.report_asks), "total": a.total, "pots": pots,
        })
    return {
        "grant": g.grant_id, "name": g.name, "period": f"{g.first_year}-{g.last_year}",
        "first_year": g.first_year, "last_year": g.last_year, "years": list(g.years),
        "category": g.category, "accounting_object": g.accounting_object,
        "purposes": [{"purpose": code, "text": text} for code, text in g.purposes.items()],
        "agreements": agreements, "authorisations": authorisation_rows(view, grant_id),
        "accounting_objects": [{"region": r, "region_name": Region(r).name, "object": o}
                               for r, o in sorted(g.region_objects.items())],
        "regions": _regions_of(view, g),
    }


def pot_rows(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """A grant's pots, one row per agreement year and pot, with the agreement's terms (CSV)."""
    terms = ("signed_on", "amended_on", "report_due", "requisition_by", "repay_unused_by", "carry_over",
             "report_asks")
    return [{"year": a["year"], **pot, **{t: a[t] for t in terms}} for a in detail["agreements"] for pot in a["pots"]]
