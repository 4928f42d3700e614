"""`grants demo`: the bundled Professionsmiljarden example, loaded idempotently.

It records, through the same application service as every other command: the grant,
the 2016 agreement and the published 2016 allocation table, the 2018 agreement,
Jämtland's 2018 allocations, the director's authorisation, the decisions that commit
2018 money, and the reservation of what remains. Then it prints Jämtland 2018.
Dates the sources do not give are marked ILLUSTRATIVE below and in the data files.
"""

from __future__ import annotations

import csv
import datetime
from importlib import resources
from typing import Any

import click

from commands.options import CONTEXT
from commands.params import DATE
from commands.render import BALANCE_COLUMNS, COMPLIANCE_COLUMNS, as_csv, as_json, as_table, findings_lines
from ledger import clock
from ledger.values import Amount
from ledger.terms import Agreement, DecisionTerms

GRANT = "professionsmiljarden"
JAMTLAND = "23"
D = datetime.date

PURPOSES = [
    ["it-admin", "IT support and processes that simplify administration and give better information"],
    ["competence-use", "Smarter use of the staff's competence"],
    ["competence-supply", "Planning of long-term competence supply"],
    ["nurse-specialist-education", "Letting nurses train as specialist nurses"],
]
DIRECTOR = "Hälso- och sjukvårdsdirektören"  # ILLUSTRATIVE: the memo names the role, not the person
RESERVED = Amount.kronor(2_228_598)


def _data(name: str) -> list[dict[str, str]]:
    text = resources.files("commands").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def load(app: Any, user: str) -> int:
    """Record the example; returns how many steps recorded something new (0 on a re-run)."""
    steps = [
        app.define_grant(GRANT, "Professionsmiljarden", 2016, 2018, PURPOSES, "3", "9902", user),
        app.sign_agreement(GRANT, Agreement(
            2016, signed_on=D(2016, 1, 28),
            # SKL's published table distributes the whole billion to the regions, so the demo
            # records one pot of 1 000 000 000 (the government's text keeps 50 000 000 of it
            # for national work; see docs/concepts.md, "What the sources leave open").
            pots=[["stimulus", Amount.kronor(1_000_000_000).ore]],
            earmarks=[], report_due=D(2017, 3, 31),  # ILLUSTRATIVE day: the source says "March 2017"
            payer="Kammarkollegiet", report_to="", population_date=None, ref=""), recorded_by=user),
        app.allocate(
            GRANT, 2016, "stimulus",
            {row["region"]: Amount.parse(row["amount"]) for row in _data("allocation-2016.csv")},
            "table", user,
        ) > 0,
        app.sign_agreement(GRANT, Agreement(
            2018, signed_on=D(2018, 1, 25),  # ILLUSTRATIVE: the signing date is not in the seeds
            pots=[["stimulus", Amount.kronor(651_000_000).ore],
                  ["nurse-education", Amount.kronor(300_000_000).ore],
                  ["skl-support", Amount.kronor(25_000_000).ore]],
            earmarks=[["nurse-education", "nurse-specialist-education"]], report_due=D(2019, 2, 15),
            payer="SKL", report_to="Socialstyrelsen", population_date=D(2017, 11, 1),
            ref="RS/255/2018"), recorded_by=user),
        app.allocate(GRANT, 2018, "stimulus", {JAMTLAND: Amount.kronor(8_357_305)}, "entered", user) > 0,
        app.allocate(GRANT, 2018, "nurse-education", {JAMTLAND: Amount.kronor(3_851_293)}, "entered", user) > 0,
        app.authorise(GRANT, JAMTLAND, DIRECTOR, "hälso- och sjukvårdsdirektör", D(2016, 1, 1), None, user),
    ]
    for row in _data("jamtland-2018-decisions.csv"):
        terms = DecisionTerms(DIRECTOR, D.fromisoformat(row["decided_on"]), row["business_area"],
                              row["activities"], row["purpose"], {2018: Amount.parse(row["amount"])})
        steps.append(app.decide(GRANT, row["decision"], JAMTLAND, terms, user))
    steps.append(app.reserve(GRANT, JAMTLAND, 2018, RESERVED, "nurse-specialist-education",
                             D(2018, 4, 6), "JH-RES-2018-1", user))  # its ref makes a rerun unchanged
    return sum(1 for recorded in steps if recorded)


@click.command(context_settings=CONTEXT)
@click.option("--on", "judge_on", default=None, help="Judge compliance as on this day (default: today).")
@click.pass_obj
def demo(s: Any, judge_on: str | None) -> None:
    """Load the bundled Professionsmiljarden example and print Jämtland 2018.

    Idempotent: a second run records nothing new. Loads the grant, the 2016
    agreement and published allocation table (21 regions), the 2018 agreement,
    Region Jämtland Härjedalen's 2018 allocations (8 357 305 + 3 851 293), the
    director's authorisation, the decisions committing 9 980 000 of 2018 money,
    and the reservation of the remaining 2 228 598 for nurse specialist education.
    Decision dates and ids are illustrative (the sources do not give them).

    \b
    Example:
      grants demo
      grants --db /tmp/demo.sqlite --format json demo --on 2019-02-01
    """
    from projections.balances import balance_rows
    from projections.compliance import compliance_rows

    on = DATE.convert(judge_on, None, None) if judge_on else clock.recorded_day(clock.now())
    new = load(s.app, s.user)
    view, _ = s.read.view()
    balances = balance_rows(view, GRANT, JAMTLAND, 2018)
    compliance = compliance_rows(view, GRANT, on, JAMTLAND, 2018)
    if s.fmt == "json":
        click.echo(as_json({"balance": balances, "compliance": compliance}))
        return
    if s.fmt == "csv":

        click.echo(as_csv(balances, [k for k, _ in BALANCE_COLUMNS]))
        click.echo(as_csv(compliance, [k for k, _ in COMPLIANCE_COLUMNS] + ["findings"]))
        return
    b = balances[0]
    loaded = f"recorded {new} new facts" if new else "already loaded, nothing new recorded"
    click.echo(f"Professionsmiljarden example in {s.db}: {loaded}.")
    click.echo("Decision ids and dates are illustrative; the sources do not give them.\n")
    before = b["allocated"] - b["committed"]
    click.echo(
        f"Region Jämtland Härjedalen 2018: allocated {b['allocated'].pretty()} "
        f"(8 357 305 stimulus + 3 851 293 nurse specialist education);\n"
        f"decisions from 2016 and 2017 commit {b['committed'].pretty()}, leaving "
        f"{before.pretty()} available,\nwhich the region reserves for nurse specialist education.\n"
    )
    click.echo(as_table(balances, BALANCE_COLUMNS))
    click.echo(f"\nCompliance as on {on.isoformat()}:")
    click.echo(as_table(compliance, COMPLIANCE_COLUMNS))
    for line in findings_lines(compliance):
        click.echo(line)
