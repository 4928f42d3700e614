"""Finding your way: `grants list grants|decisions` and `grants show grant|decision`.

Rows and objects come from the read side (``projections.catalog`` through the Reader);
here they are rendered: tables for people, JSON (rows for `list`, one object for `show`)
and CSV for scripts.
"""

from __future__ import annotations

from typing import Any

import click

from commands import params as p
from commands.group import cli
from commands.options import CONTEXT, with_grant
from commands.render import as_csv, as_json, as_table, cell
from commands.session import Session, pass_session
from ledger.terms import STATUSES
from projections.catalog import pot_rows

GRANT_COLUMNS = [
    ("grant", "grant"), ("name", "name"), ("period", "period"), ("purposes", "purposes"),
    ("agreements", "agreements"), ("regions", "regions"),
]
DECISION_COLUMNS = [
    ("decision", "decision"), ("region", "region"), ("decided_by", "decided by"), ("decided_on", "decided on"),
    ("purpose", "purpose"), ("area", "area"), ("activity", "activity"), ("amount", "amount"),
    ("spent", "spent"), ("remaining", "remaining"), ("status", "status"),
]
SCHEDULE_COLUMNS = [("year", "year"), ("granted", "granted"), ("amount", "amount"), ("spent", "spent"),
                    ("remaining", "remaining")]
AMENDMENT_COLUMNS = [("position", "pos"), ("on", "on"), ("decided_by", "decided by"), ("total", "new total"),
                     ("schedule", "schedule"), ("reason", "reason")]
BOOKING_COLUMNS = [
    ("position", "pos"), ("voucher", "voucher"), ("year", "year"), ("booked_on", "booked on"),
    ("object", "object"), ("kind", "kind"), ("amount", "amount"), ("reversed_on", "reversed on"),
    ("reversal_position", "rev. pos"), ("text", "text"),
]
EVENT_COLUMNS = [
    ("position", "pos"), ("recorded_at", "recorded at (UTC)"), ("recorded_by", "by"), ("type", "type"),
    ("effective", "effective"), ("summary", "summary"),
]
POT_COLUMNS = [("year", "year"), ("pot", "pot"), ("amount", "amount"), ("earmark", "earmarked for"),
               ("allocated", "allocated"), ("unallocated", "unallocated")]
AUTHORISATION_COLUMNS = [("region", "region"), ("region_name", "name"), ("person", "person"), ("role", "role"),
                         ("from", "from"), ("until", "until")]


@cli.group("list", context_settings=CONTEXT)
def list_() -> None:
    """List what the ledger holds: every grant, or a grant's decisions.

    \b
    Example:
      grants list grants
      grants list decisions professionsmiljarden --region Jämtland --year 2018
    """


@list_.command("grants", context_settings=CONTEXT)
@pass_session
def list_grants(s: Session) -> None:
    """Every grant: its id, name, period, how many purposes, the years with a signed
    agreement and the regions with anything recorded (an allocation, a frame, a
    decision, an authorisation).

    \b
    Example:
      grants list grants
      grants list grants --format json
    """
    rows = s.read.grants().rows
    if s.fmt == "table":  # a grant of every region: how many, not all 21 codes
        rows = [{**r, "regions": _few(r["regions"])} for r in rows]
    s.out(rows, GRANT_COLUMNS, "(no grants defined)")


def _few(codes: list[str]) -> str:
    return ", ".join(codes) if len(codes) <= 5 else f"{len(codes)} ({', '.join(codes[:3])}, …)"


@list_.command("decisions", context_settings=CONTEXT)
@with_grant
@click.option("--region", type=p.REGION, default=None, help="Only this region's decisions.")
@click.option("--year", type=p.YEAR, default=None,
              help="Only decisions with money in this year; amount, spent and remaining are that year's.")
@click.option("--purpose", type=p.CodeType("purpose"), default=None, help="Only decisions for this purpose.")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only live, amended or revoked ones.")
@pass_session
def list_decisions(s: Session, grant_id: str, region: str | None, year: int | None, purpose: str | None,
                   status: str | None) -> None:
    """GRANT's decisions, one row each: region, who decided and when, purpose, area,
    activity, the amount over all its years (or --year's), spent, remaining and status
    (live, amended, revoked). `grants show decision GRANT ID` shows one in full.

    \b
    Example:
      grants list decisions professionsmiljarden --region 23
      grants list decisions professionsmiljarden --year 2018 --status amended --format csv
    """
    rows = s.read.decisions(grant_id, region, year, purpose, status).rows
    s.out(rows, DECISION_COLUMNS, "(no decisions match)")


@cli.group("show", context_settings=CONTEXT)
def show() -> None:
    """Show one grant or one decision in full.

    \b
    Example:
      grants show grant professionsmiljarden
      grants show decision professionsmiljarden JH-PM-01
    """


@show.command("decision", context_settings=CONTEXT)
@with_grant
@click.argument("decision_id", metavar="DECISION", type=p.IdType("decision id"))
@pass_session
def show_decision(s: Session, grant_id: str, decision_id: str) -> None:
    """One decision in full: its terms (who decided, when, area, activity, purpose,
    continuation, reference), each year's amount, spent and remaining, its amendments
    and revocation, every booking, credit and reversal (voucher, dates, object, amount)
    and its events, each with the position in the log of the event that recorded it.

    With --format json: one object; with --format csv: the decision's events, one row
    each (position, type, effective date, year, voucher, object, amount, reason).

    \b
    Example:
      grants show decision professionsmiljarden JH-PM-01
      grants show decision professionsmiljarden JH-PM-01 --format json
    """
    d = s.read.decision(grant_id, decision_id).rows
    if s.fmt == "json":
        click.echo(as_json(d))
    elif s.fmt == "csv":
        click.echo(as_csv(d["events"], [k for k in d["events"][0] if k != "summary"] + ["summary"]))
    else:
        click.echo(_decision_text(d))


def _decision_text(d: dict[str, Any]) -> str:
    purpose = d["purpose"] + (f" ({d['purpose_text']})" if d["purpose_text"] else "")
    first = d["events"][0]
    out = [
        f"Decision {d['decision']} of {d['grant']}, {d['region']} {d['region_name']}: {d['status']}",
        f"decided by {d['decided_by']} on {cell(d['decided_on'])}, recorded at position {first['position']} "
        f"({cell(first['recorded_at'])} UTC by {first['recorded_by']})",
        f"area: {d['area']}",
        f"activity: {d['activity']}",
        f"purpose: {purpose}",
    ]
    out += [f"continuation: {d['continuation']}"] if d["continuation"] else []
    out += [f"reference: {d['ref']}"] if d["ref"] else []
    out += [f"amount {cell(d['amount'])}, spent {cell(d['spent'])}, remaining {cell(d['remaining'])}", "",
            "Schedule:", as_table(d["schedule"], SCHEDULE_COLUMNS, "  (none)"), "", "Amendments:"]
    amendments = [{**a, "schedule": ", ".join(f"{x['year']}: {cell(x['amount'])}" for x in a["schedule"])}
                  for a in d["amendments"]]
    out.append(as_table(amendments, AMENDMENT_COLUMNS, "  (none)"))
    r = d["revocation"]
    out += ["", "Revocation: " + ("(none)" if r is None else
                                  f"revoked by {r['decided_by']} on {cell(r['on'])} ({r['reason']}), "
                                  f"position {r['position']}")]
    out += ["", "Bookings, credits and reversals:", as_table(d["bookings"], BOOKING_COLUMNS, "  (none)")]
    out += ["", "Events, in recording order:", as_table(d["events"], EVENT_COLUMNS, "  (none)")]
    return "\n".join(out)


@show.command("grant", context_settings=CONTEXT)
@with_grant
@pass_session
def show_grant(s: Session, grant_id: str) -> None:
    """One grant in full: its period and purposes; each agreement year's terms (signed,
    amended, report due and to whom, payer, requisition-by, repay-unused-by, carry-over,
    what the report must hold), pots, earmarks and what was allocated of each pot; who
    may decide for each region (until each authorisation's effective end); the regions'
    own accounting objects and the regions with anything recorded.

    With --format json: one object; with --format csv: one row per agreement year and
    pot, with the agreement's terms.

    \b
    Example:
      grants show grant professionsmiljarden
      grants show grant professionsmiljarden --format json
    """
    g = s.read.grant(grant_id).rows
    if s.fmt == "json":
        click.echo(as_json(g))
    elif s.fmt == "csv":
        click.echo(as_csv(pot_rows(g)))
    else:
        click.echo(_grant_text(g))


def _grant_text(g: dict[str, Any]) -> str:
    out = [f"Grant {g['grant']}: {g['name']}, {g['period']}",
           f"category {g['category'] or '-'}, accounting object {g['accounting_object'] or '-'}", "",
           "Purposes:", as_table(g["purposes"], [("purpose", "purpose"), ("text", "text")], "  (none)"), "",
           "Agreements:"]
    for a in g["agreements"]:
        amended = f", amended {cell(a['amended_on'])}" if a["amended_on"] else ""
        out.append(f"  {a['year']}: signed {cell(a['signed_on'])}{amended}, payer {a['payer'] or '-'}, "
                   f"report due {cell(a['report_due'])} to {a['report_to'] or '-'}")
        out.append(f"        requisition by {cell(a['requisition_by'])}, repay unused by "
                   f"{cell(a['repay_unused_by'])}, carry-over {cell(a['carry_over'])}, report asks "
                   f"{cell(a['report_asks']) or '-'}")
    if not g["agreements"]:
        out.append("  (none signed)")
    out += ["", "Pots:", as_table(pot_rows(g), POT_COLUMNS, "  (none)"), "",
            "Authorisations:", as_table(g["authorisations"], AUTHORISATION_COLUMNS, "  (none)"), "",
            f"Accounting objects: {g['accounting_object'] or '-'} unless a region has its own:",
            as_table(g["accounting_objects"], [("region", "region"), ("region_name", "name"), ("object", "object")],
                     "  (no region has its own)"), "",
            "Regions with anything recorded: " + (", ".join(g["regions"]) or "(none)")]
    return "\n".join(out)
