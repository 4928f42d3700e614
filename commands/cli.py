"""The `grants` command line: the group, and where each of its commands lives.

Parse, call the application, render: each family of commands lives in its own module
(state, region, queries, auditing, transfer, authority, reclaims, browse, serve, db, demo,
sie) and registers itself on the group (:mod:`commands.group`), where errors become exit
codes in one place. A module is imported only when one of its commands is asked for
(``grants balance`` loads ``commands.queries`` and what it needs, never the web view or
the workbook writer), so that the command starts quickly; ``grants --help`` lists every
command from :data:`COMMANDS` without importing any of them.
"""

from __future__ import annotations

from commands.group import cli

# Every command of `grants`: name -> ("module:attribute", its short help: the first sentence
# of its help, which `grants --help` shows cut to the terminal's width).
# tests/cli/test_startup.py fails when this is not what the commands themselves say.
COMMANDS: dict[str, tuple[str, str]] = {
    "agreement": ("commands.state:agreement", "Sign a year's agreement (överenskommelse)."),
    "allocate": ("commands.state:allocate",
        "Allocate a pot of GRANT's year to regions, in one atomic write."),
    "amend": ("commands.region:amend", "Replace a decision's schedule with a new one."),
    "audit": ("commands.auditing:audit",
        "The controller's view of one year: every event that touched it (recorded time and "
        "effective date apart), the opening position carried in from earlier years' "
        "decisions, the closing balances, commitments and compliance, each filed report "
        "beside the year as it stands now, a reconciliation of domain.md's identities, and "
        "the digest of exactly the history replayed."),
    "authorisations": ("commands.authority:authorisations",
        "Who may decide for each region: person, role, from, until (the effective end: the "
        "earlier of --until and the day before a deauthorisation) and the day each "
        "authorisation was recorded."),
    "authorise": ("commands.region:authorise",
        "Authorise a person to take the region's decisions on GRANT."),
    "balance": ("commands.queries:balance",
        "Balances per region and year: allocated, requisitioned, committed, reserved, spent, "
        "available, shortfall."),
    "budget": ("commands.queries:budget",
        "Budget against actual for a year: per decision, area or purpose, what was decided "
        "for the year, spent, remaining and the share used (%), with totals; with --months or"
        " --quarters, what was spent in each (by the bookings' dates)."),
    "close": ("commands.region:close",
        "Close a region's year: nothing new is accepted until it is reopened."),
    "commitments": ("commands.queries:commitments",
        "Each decision's commitment per year: amount, spent, remaining, status (live, "
        "amended, revoked)."),
    "compliance": ("commands.queries:compliance",
        "What it takes to keep each year's money: the report, its content, traceability, "
        "earmarks, requisitions, and the money at risk, with reasons."),
    "db": ("commands.db:db", "Set up a ledger's store (on PostgreSQL: its tables, guards and roles)."),
    "deauthorise": ("commands.authority:deauthorise",
        "End a person's authority to decide for a region from a day on."),
    "decide": ("commands.region:decide",
        "Record a decision that grants money to an activity, for one or more years."),
    "demo": ("commands.demo:demo",
        "Load the bundled Professionsmiljarden example and print Jämtland 2018."),
    "export": ("commands.transfer:export",
        "Write every event, in recording order, as JSON Lines (one event a line, with its "
        "position, recorded time, recorder, type and data)."),
    "frame": ("commands.region:frame", "Set a region's planning frame for a year not yet allocated."),
    "grant": ("commands.state:grant", 'Define a grant.'),
    "history": ("commands.queries:history",
        "Every event of GRANT in recording order: position, when and by whom it was recorded,"
        " its type, its effective date and what it said."),
    "import": ("commands.transfer:import_",
        "Load a JSON Lines file written by `grants export` into an empty ledger."),
    "interest-rate": ("commands.reclaims:interest_rate",
        "Record the interest rate a reclaim bears from a day on (the state's lending rate "
        "changes): each change with the day it applies from, after the last one."),
    "list": ("commands.browse:list_",
        "List what the ledger holds: every grant, or a grant's decisions."),
    "object": ("commands.authority:region_object",
        "Record the accounting object a region books GRANT on, when it is not the grant's own"
        " (`grant define --accounting-object`)."),
    "pay": ("commands.state:pay",
        "Record what the payer (SKL, Kammarkollegiet) paid out to a region against its "
        "requisitions of one pot: never more than is requisitioned (and so allocated)."),
    "rebuild": ("commands.auditing:rebuild",
        "Rebuild every persisted read model (balances, commitments, the aggregates compliance"
        " reads) from position 0, showing progress on a terminal, and clear the aggregates' snapshots"
        " (kept again as they are saved)."),
    "reclaim": ("commands.reclaims:reclaim",
        "Record the paying authority's decision to reclaim (återkrav) a region-year's money: "
        "a debt of the region, settled by `repay --reclaim REF`, forgiven by `waive`."),
    "reclaims": ("commands.reclaims:reclaims",
        "Each reclaim: ground, decision, due day, rate; reclaimed, repaid, waived and owed "
        "principal, and the interest accrued and unpaid, as on --on."),
    "reopen": ("commands.region:reopen", 'Reopen a closed year, with the reason recorded.'),
    "repay": ("commands.region:repay",
        "Return uncommitted money to the paying authority; never beyond what is available."),
    "report": ("commands.region:report",
        "File a region's yearly follow-up report; --filed-on may not be after today."),
    "requisition": ("commands.region:requisition",
        "Requisition (part of) a region's allocation of one pot; never beyond it."),
    "reserve": ("commands.region:reserve", "Set part of a year's available money aside for a purpose."),
    "reverse": ("commands.region:reverse",
        "Reverse a wrong booking (it is never deleted); --on may not be after today."),
    "revoke": ("commands.region:revoke",
        "Revoke a decision: its unspent rest is released, what is booked stays committed."),
    "serve": ("commands.serve:serve",
        "Serve a read-only web view of the ledger until stopped (Ctrl-C): each grant-year's "
        "regions with their money, compliance and money at risk; a region-year's commitments "
        "over the years, reports and reclaims; a decision's schedule, bookings and reversals;"
        " and the audit of a year as of any date or position, each with its CSV."),
    "show": ("commands.browse:show", 'Show one grant or one decision in full.'),
    "sie": ("commands.sie:sie",
        "Bookings from the region's books: import an SIE 4 file's grant cost rows, and "
        "reconcile the books with the ledger (see docs/sie.md)."),
    "spend": ("commands.region:spend",
        "Book a cost against a decision for one year, or with a negative --amount a credit (a"
        " refund, a corrected invoice) that lowers what the decision has spent."),
    "verify": ("commands.auditing:verify",
        "Check the stored history: every event decodes, versions run without gaps, each event"
        " re-checks against the rules on the history before it, sealed reports' digests are "
        "ones the history passed through, the digests the read models computed as they "
        "applied the events still hold, and every year reconciles."),
    "waive": ("commands.reclaims:waive",
        "Record a waiver (eftergift) of part or all of a reclaim: of its principal (the "
        "region keeps that money after all), or with --interest of the interest accrued by "
        "--on."),
    "year-end": ("commands.reclaims:year_end",
        "The year-end statement for the accountants: per region, what was paid out, spent, "
        "decided, repaid, reclaimed, waived and is owed, and the money paid but neither spent"
        " nor decided nor repaid — a liability to the state (förutbetald intäkt, RKR R2)."),
}

cli.lazy.update(COMMANDS)


def main() -> None:
    cli.main(prog_name="grants")
