"""The state's reclaims: reclaim, a reclaim's interest rate, waive; and two queries, the
reclaims with what is owed, and the year-end statement. (`repay --reclaim` settles a
reclaim: see commands/region.py.)
"""

from __future__ import annotations

import click

from commands import params as p
from commands.group import cli
from commands.options import CONTEXT, done, judging_day, query_options, time_options, with_grant, with_region_year
from commands.render import RECLAIM_COLUMNS, YEAR_END_COLUMNS
from commands.session import Session, pass_session
from ledger.debts import GROUNDS
from ledger.values import Amount, Region


@cli.command(context_settings=CONTEXT)
@with_region_year
@click.option("--amount", required=True, type=p.AMOUNT, help="The principal reclaimed.")
@click.option("--decided-on", required=True, type=p.DATE, help="The day the payer decided the reclaim.")
@click.option("--ground", required=True, type=click.Choice(GROUNDS), help="Why the money is reclaimed.")
@click.option("--ref", required=True, help="The reclaim decision's reference, unique within the grant's "
                                           "region-year; the same ref and content again records nothing.")
@click.option("--due", type=p.DATE, default=None,
              help="The day it must be repaid; interest runs from then (default: one month after "
                   "the decision).")
@click.option("--interest-rate", "rate", default="", metavar="PERCENT",
              help="The yearly interest rate, e.g. 4.5 (the state's lending rate plus two points); "
                   "none: no interest (a rate can be set later with interest-rate).")
@pass_session
def reclaim(s: Session, grant_id: str, region: str, year: int, amount: Amount, decided_on, ground: str,
            ref: str, due, rate: str) -> None:
    """Record the paying authority's decision to reclaim (återkrav) a region-year's
    money: a debt of the region, settled by `repay --reclaim REF`, forgiven by
    `waive`.

    The reclaimed money leaves what the region keeps at once: it may exceed what is
    available (the money may be spent), and then the year shows a shortfall until
    decisions are amended or revoked, and compliance names the debt until it is
    repaid or waived. Interest, with a rate, runs from one month after the decision
    (or from --due) on the principal owed, day by day (actual days / 365), exact to
    the öre. A closed year takes a reclaim (the debt outlives the year).

    \b
    Example:
      grants reclaim professionsmiljarden --region 23 --year 2017 --amount 250000 \\
        --decided-on 2018-06-15 --ground unused --interest-rate 2.5 --ref KAMK-2018-117
    """
    recorded = s.app.reclaim(grant_id, region, year, amount, decided_on, ground, ref.strip(), s.user,
                             due=due, rate=rate)
    done(recorded, f"{Region(region)} {year}: {amount.pretty()} reclaimed ({ground}), ref {ref.strip()}")


@cli.command("interest-rate", context_settings=CONTEXT)
@with_region_year
@click.option("--reclaim", "reclaim_ref", default=None,
              help="The reclaim's ref (needed when the year has more than one).")
@click.option("--rate", required=True, metavar="PERCENT", help="The yearly rate from --from on, e.g. 3.75.")
@click.option("--from", "applies_from", required=True, type=p.DATE, help="The first day the rate applies.")
@click.option("--ref", required=True, help="Your reference for the change; the same again records nothing.")
@pass_session
def interest_rate(s: Session, grant_id: str, region: str, year: int, reclaim_ref: str | None, rate: str,
                  applies_from, ref: str) -> None:
    """Record the interest rate a reclaim bears from a day on (the state's lending rate
    changes): each change with the day it applies from, after the last one.

    \b
    Example:
      grants interest-rate professionsmiljarden --region 23 --year 2017 \\
        --reclaim KAMK-2018-117 --rate 3 --from 2019-01-01 --ref RATE-2019
    """
    recorded = s.app.set_reclaim_rate(grant_id, region, year, reclaim_ref, rate, applies_from, ref.strip(),
                                      s.user)
    done(recorded, f"{Region(region)} {year}: interest {rate.strip()} % from {applies_from.isoformat()}")


@cli.command(context_settings=CONTEXT)
@with_region_year
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--on", required=True, type=p.DATE, help="The day of the waiver decision.")
@click.option("--reason", required=True, help="Why it is waived.")
@click.option("--ref", required=True, help="The waiver decision's reference; the same again records nothing.")
@click.option("--reclaim", "reclaim_ref", default=None,
              help="The reclaim's ref (needed when the year has more than one).")
@click.option("--interest", is_flag=True, help="Waive interest accrued by --on, not principal.")
@pass_session
def waive(s: Session, grant_id: str, region: str, year: int, amount: Amount, on, reason: str, ref: str,
          reclaim_ref: str | None, interest: bool) -> None:
    """Record a waiver (eftergift) of part or all of a reclaim: of its principal (the
    region keeps that money after all), or with --interest of the interest accrued
    by --on. Never more than is owed that day.

    \b
    Example:
      grants waive professionsmiljarden --region 23 --year 2017 --amount 500 --interest \\
        --on 2019-03-01 --reason "särskilda skäl" --ref KAMK-2019-9
    """
    recorded = s.app.waive(grant_id, region, year, reclaim_ref, amount, on, reason, ref.strip(), s.user,
                           interest=interest)
    what = "interest" if interest else "principal"
    done(recorded, f"{Region(region)} {year}: {amount.pretty()} of {what} waived, ref {ref.strip()}")


@cli.command(context_settings=CONTEXT)
@query_options
@click.option("--on", "judge_on", type=p.DATE, default=None,
              help="Figures as on that day (default: the --as-of day, else today).")
@pass_session
def reclaims(s: Session, grant_id: str, region: str | None, year: int | None, as_of, position: int | None,
             judge_on) -> None:
    """Each reclaim: ground, decision, due day, rate; reclaimed, repaid, waived and
    owed principal, and the interest accrued and unpaid, as on --on.

    \b
    Example:
      grants reclaims professionsmiljarden --region 23 --on 2019-03-01
    """
    day = judging_day(judge_on, as_of)
    rows = s.answer(s.read.reclaims(grant_id, day, region, year, position=position, as_of=as_of), grant_id)
    s.out(rows, RECLAIM_COLUMNS, "(no reclaims recorded)")


@cli.command("year-end", context_settings=CONTEXT)
@with_grant
@click.option("--year", required=True, type=p.YEAR)
@click.option("--region", type=p.REGION, default=None, help="Only this region.")
@time_options
@pass_session
def year_end(s: Session, grant_id: str, year: int, region: str | None, as_of, position: int | None) -> None:
    """The year-end statement for the accountants: per region, what was paid out,
    spent, decided, repaid, reclaimed, waived and is owed, and the money paid but
    neither spent nor decided nor repaid — a liability to the state (förutbetald
    intäkt, RKR R2). Use --format csv to hand it on; --as-of takes the ledger as it
    stood on the closing day.

    \b
    Example:
      grants --format csv year-end professionsmiljarden --year 2018 --as-of 2019-01-15
    """
    rows = s.answer(s.read.year_end(grant_id, year, region, position=position, as_of=as_of), grant_id)
    s.out(rows, YEAR_END_COLUMNS, "(no region-years recorded)")
