"""Queries: balances, commitments, compliance and history, for now or as of then.
"""

from __future__ import annotations



import click

from commands import params as p
from commands.group import cli
from commands.options import CONTEXT
from commands.session import Session, pass_session
from commands.options import judging_day, query_options, time_options, with_grant
from projections.budget import BY
from commands.render import BALANCE_COLUMNS, COMMITMENT_COLUMNS, COMPLIANCE_COLUMNS, HISTORY_COLUMNS, findings_lines


UNTIL = click.option("--until", type=p.DATE, default=None,
                     help="What had taken effect by that day: bookings dated by then and not reversed by "
                          "then (and, for commitments, decisions taken by then) — unlike --as-of, which "
                          "replays what had been recorded by a moment.")


@cli.command(context_settings=CONTEXT)
@query_options
@UNTIL
@pass_session
def balance(s: Session, grant_id: str, region: str | None, year: int | None, as_of,
            position: int | None, until) -> None:
    """Balances per region and year: allocated, requisitioned, committed, reserved,
    spent, available, shortfall.

    \b
    With --as-of or --position, only what had been recorded by then is replayed,
    in whole commands: the answer is what the ledger said at that moment. A limit
    inside one command's atomic write (an allocation to many regions, a decision
    and its years) answers as of the start of that command, with a "note:" on
    stderr; before the grant's first recording the answer is empty (exit 0).

    \b
    Example:
      grants balance professionsmiljarden --region Jämtland --year 2018
      grants balance professionsmiljarden --year 2018 --as-of 2019-02-15
      grants --format json balance professionsmiljarden --position 120
      grants balance professionsmiljarden --year 2018 --until 2018-06-30

    With --until, spent is what was booked with dates up to that day (and not
    reversed by then); the other figures are the year's as recorded.
    """
    rows = s.answer(s.read.balances(grant_id, region, year, position=position, as_of=as_of, until=until),
                    grant_id)
    s.out(rows, BALANCE_COLUMNS, "(no balances recorded)")


@cli.command(context_settings=CONTEXT)
@query_options
@UNTIL
@pass_session
def commitments(s: Session, grant_id: str, region: str | None, year: int | None, as_of,
                position: int | None, until) -> None:
    """Each decision's commitment per year: amount, spent, remaining, status
    (live, amended, revoked).

    \b
    Example:
      grants commitments professionsmiljarden --region 23 --year 2018
      grants commitments professionsmiljarden --region 23 --year 2018 --until 2018-06-30
    """
    rows = s.answer(s.read.commitments(grant_id, region, year, position=position, as_of=as_of, until=until),
                    grant_id)
    s.out(rows, COMMITMENT_COLUMNS, "(no decisions recorded)")


@cli.command(context_settings=CONTEXT)
@query_options
@click.option("--on", "judge_on", type=p.DATE, default=None,
              help="Judge as on that day (default: the --as-of day, else today).")
@pass_session
def compliance(s: Session, grant_id: str, region: str | None, year: int | None, as_of,
               position: int | None, judge_on) -> None:
    """What it takes to keep each year's money: the report, its content,
    traceability, earmarks, requisitions, and the money at risk, with reasons.

    \b
    Example:
      grants compliance professionsmiljarden --region 23 --year 2018 --on 2019-01-31
    """
    day = judging_day(judge_on, as_of)
    rows = s.answer(s.read.compliance(grant_id, day, region, year, position=position, as_of=as_of), grant_id)
    s.out(rows, COMPLIANCE_COLUMNS, "(no region-years recorded)")
    if s.fmt == "table":
        for line in findings_lines(rows):
            s.echo(line)


@cli.command(context_settings=CONTEXT)
@with_grant
@click.option("--region", type=p.REGION, default=None, help="Only events about this region.")
@click.option("--decision", "decision_id", type=p.IdType("decision id"), default=None,
              help="Only events about this decision.")
@pass_session
def history(s: Session, grant_id: str, region: str | None, decision_id: str | None) -> None:
    """Every event of GRANT in recording order: position, when and by whom it was
    recorded, its type, its effective date and what it said.

    \b
    Example:
      grants history professionsmiljarden --region 23
      grants history professionsmiljarden --decision JH-2016-07
    """
    s.out(s.answer(s.read.history(grant_id, region, decision_id), grant_id), HISTORY_COLUMNS, "(no events)")


@cli.command(context_settings=CONTEXT)
@with_grant
@click.option("--year", required=True, type=p.YEAR)
@click.option("--region", type=p.REGION, default=None, help="Only this region.")
@click.option("--by", "by", type=click.Choice(BY), default="decision", show_default=True,
              help="One row per decision, business area or purpose (and region).")
@click.option("--months", "period", flag_value="month", default=None, help="Spent per month, by booking date.")
@click.option("--quarters", "period", flag_value="quarter", help="Spent per quarter, by booking date.")
@UNTIL
@time_options
@pass_session
def budget(s: Session, grant_id: str, year: int, region: str | None, by: str, period: str | None, until,
           as_of, position: int | None) -> None:
    """Budget against actual for a year: per decision, area or purpose, what was
    decided for the year, spent, remaining and the share used (%), with totals;
    with --months or --quarters, what was spent in each (by the bookings' dates).

    \b
    Examples:
      grants budget professionsmiljarden --year 2018 --region 23 --by area
      grants budget professionsmiljarden --year 2018 --region 23 --by purpose --quarters
      grants budget professionsmiljarden --year 2018 --until 2018-06-30
    """
    rows = s.answer(s.read.budget(grant_id, year, region, by, period, until, position=position, as_of=as_of),
                    grant_id)
    keys = {by} | ({"area", "purpose", "status"} if by == "decision" else set())
    columns = [("region", "region"), ("region_name", "name"), (by, by)]
    columns += [(k, k) for k in ("area", "purpose") if by == "decision"]
    columns += [("decided", "decided"), ("spent", "spent"), ("remaining", "remaining"), ("used_percent", "% used")]
    fixed = {"region", "region_name", "year", "decided", "spent", "remaining", "used_percent"} | keys
    columns += [(k, k) for k in (rows[0] if rows else {}) if k not in fixed]
    s.out(rows, columns, "(nothing decided for the year)")
