"""The state's side: define a grant, sign a year's agreement, allocate pots to regions.
"""

from __future__ import annotations


import csv
import io
from collections.abc import Callable
from typing import Any

import click

from commands import params as p
from ledger.errors import Malformed
from ledger.terms import CARRY_OVER, REPORT_CONTENT, Agreement
from ledger.values import Amount, Region, plural
from commands.dialects import sniff
from commands.group import cli
from commands.options import CONTEXT
from commands.session import Session, pass_session
from commands.options import done, with_grant, with_region_year


@cli.group(context_settings=CONTEXT)
def grant() -> None:
    """Define a grant."""


@grant.command("define")
@with_grant
@click.option("--name", required=True, help="The grant's name, e.g. Professionsmiljarden.")
@click.option("--years", required=True, type=p.YEARS, help="Its period, FIRST-LAST, e.g. 2016-2018.")
@click.option("--purpose", "purposes", required=True, multiple=True, type=p.PURPOSE,
              help="CODE=TEXT, a purpose money may be used for (repeatable).")
@click.option("--category", default="", help="The region's handling category, e.g. 3.")
@click.option("--accounting-object", default="", help="The accounting object costs are booked on, e.g. 9902.")
@pass_session
def grant_define(s: Session, grant_id: str, name: str, years: tuple[int, int], purposes,
                 category: str, accounting_object: str) -> None:
    """Define GRANT: its name, period and purposes.

    \b
    Example:
      grants grant define professionsmiljarden --name Professionsmiljarden \\
        --years 2016-2018 --purpose it-admin="IT support and processes" \\
        --purpose competence-use="Smarter use of competence" --accounting-object 9902
    """
    recorded = s.app.define_grant(
        grant_id, name, years[0], years[1], [[pp.code, pp.text] for pp in purposes],
        category.strip(), accounting_object.strip(), s.user,
    )
    done(recorded, f"grant {grant_id} ({name}, {years[0]}-{years[1]}, {len(purposes)} purposes)")


@cli.group(context_settings=CONTEXT)
def agreement() -> None:
    """Sign a year's agreement (överenskommelse)."""


@agreement.command("sign")
@with_grant
@click.option("--year", required=True, type=p.YEAR, help="The year the agreement is for.")
@click.option("--signed-on", required=True, type=p.DATE, help="Date signed, YYYY-MM-DD.")
@click.option("--pot", "pots", required=True, multiple=True, type=p.POT_AMOUNT,
              help="NAME=AMOUNT, a pot of money (repeatable), e.g. stimulus=651000000.")
@click.option("--report-due", required=True, type=p.DATE, help="When the yearly report is due.")
@click.option("--earmark", "earmarks", multiple=True, type=p.EARMARK,
              help="POT=PURPOSE: the pot is earmarked to that purpose (repeatable).")
@click.option("--payer", default="", help="Who pays, e.g. Kammarkollegiet or SKL.")
@click.option("--report-to", default="", help="Who receives the report, e.g. Socialstyrelsen.")
@click.option("--population-date", type=p.DATE, default=None, help="Population date allocation uses.")
@click.option("--ref", default="", help="The agreement's reference.")
@click.option("--requisition-by", type=p.DATE, default=None,
              help="Money not requisitioned by this day lapses.")
@click.option("--repay-unused-by", type=p.DATE, default=None,
              help="Money unused at the year's end must be repaid by this day.")
@click.option("--carry-over", type=click.Choice(CARRY_OVER), default=None,
              help="Whether unused money may be used the next year (bookings for the year "
                   "dated in the next are then taken, and judged by compliance).")
@click.option("--report-asks", "report_asks", multiple=True, type=click.Choice(REPORT_CONTENT),
              help="What the yearly report must hold (repeatable): measures (per purpose), "
                   "involvement (texts), continuation, responsible.")
@pass_session
def agreement_sign(s: Session, grant_id: str, year: int, signed_on, pots, report_due, earmarks,
                   payer: str, report_to: str, population_date, ref: str, requisition_by,
                   repay_unused_by, carry_over: str | None, report_asks: tuple[str, ...]) -> None:
    """Record GRANT's agreement for one year, with its pots, earmarks and terms.

    Signed again saying the same but for --report-due, --requisition-by,
    --repay-unused-by, --carry-over or --report-asks, it records an amendment
    signed on the new --signed-on (the whole agreement is given again: a term
    left out is one the amended agreement no longer has). Anything else changed
    is refused.

    \b
    Examples:
      grants agreement sign professionsmiljarden --year 2018 --signed-on 2017-12-14 \\
        --pot stimulus=651000000 --pot nurse-education=300000000 \\
        --earmark nurse-education=nurse-specialist-education \\
        --report-due 2019-02-15 --report-to Socialstyrelsen --payer SKL
      grants agreement sign professionsmiljarden --year 2018 --signed-on 2018-03-01 \\
        --pot stimulus=651000000 --pot nurse-education=300000000 \\
        --earmark nurse-education=nurse-specialist-education \\
        --report-due 2019-02-15 --report-to Socialstyrelsen --payer SKL \\
        --requisition-by 2018-11-30 --repay-unused-by 2019-03-31 --carry-over not-allowed
    """
    terms = Agreement(year, signed_on, [[n, a.ore] for n, a in pots], [list(e) for e in earmarks],
                      report_due, payer.strip(), report_to.strip(), population_date, ref.strip(),
                      requisition_by, repay_unused_by, carry_over or "", report_asks)
    recorded = s.app.sign_agreement(grant_id, terms, s.user)
    if s.app.grant(grant_id).agreement(year).amended_on == signed_on:
        done(recorded, f"{grant_id} {year} agreement amended, signed {signed_on.isoformat()}")
    else:
        total = Amount(sum(a.ore for _, a in pots))
        done(recorded, f"{grant_id} {year} agreement, {total.pretty()} in {plural(len(pots), 'pot')}")


# --------------------------------------------------------------------------- allocate


_CODE_COLUMNS = ("region", "code", "county_code", "länskod")
_NAME_COLUMNS = ("region_name", "name", "namn")


def _read_csv(path: str, value_column: str, parse: Callable[[str], Any]) -> dict[str, Any]:
    """Read ``region,<value_column>`` rows (header optional, extra columns ignored).

    Comma or semicolon separated (told from the first line: ``commands.dialects.sniff``),
    UTF-8 with or without a byte order mark: plain CSV and Swedish Excel's alike.

    A region may also come with its name beside its code: a header with a name column
    (``region,region_name,amount``) or headerless ``code,name,value`` rows
    (``12,Skåne,100``). The name must then be the code's region: every row where they
    disagree is named, and the file is refused (a table whose names and codes disagree
    cannot say which region was meant).
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except OSError as e:
        raise Malformed(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise Malformed(f"{path} is not UTF-8 text (save the CSV as UTF-8)") from None
    try:
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=sniff(text)) if any(c.strip() for c in r)]
    except csv.Error as e:
        raise Malformed(f"{path} is not a readable CSV file ({e})") from None
    if not rows:
        raise Malformed(f"{path} is empty")
    header = [c.strip().lower() for c in rows[0]]
    ni: int | None = None
    named = [c for c in _CODE_COLUMNS + _NAME_COLUMNS if c in header]
    if named:
        if value_column not in header:
            raise Malformed(f"{path} has no '{value_column}' column")
        codes = [c for c in _CODE_COLUMNS if c in header]
        names = [c for c in _NAME_COLUMNS if c in header]
        ri = header.index(codes[0] if codes else names[0])
        ni = header.index(names[0]) if codes and names else None
        vi, body, first = header.index(value_column), rows[1:], 2
    elif len(rows[0]) >= 3 and _is_value(parse, rows[0][2]) and not _is_value(parse, rows[0][1]):
        ri, ni, vi, body, first = 0, 1, 2, rows, 1  # headerless code,name,value
    else:
        ri, vi, body, first = 0, 1, rows, 1
    values: dict[str, Any] = {}
    contradictions: list[str] = []
    for n, row in enumerate(body, start=first):
        try:
            region = Region.parse(row[ri]).code
            value = parse(row[vi])
            name = row[ni].strip() if ni is not None else ""
        except IndexError:
            raise Malformed(f"{path} line {n}: expected region,{value_column}") from None
        except Malformed as e:
            raise Malformed(f"{path} line {n}: {e}") from None
        if name and _region_of(name) != region:
            contradictions.append(f"line {n} ({row[ri].strip()} is {Region(region).name}, not {name!r})")
        if region in values:
            raise Malformed(f"{path} line {n}: region {Region(region)} appears twice")
        values[region] = value
    if contradictions:
        raise Malformed(f"{path}: the region's name contradicts its code on "
                        + ", ".join(contradictions) + "; correct the code or the name")
    if not values:
        raise Malformed(f"{path} has no rows")
    return values


def _is_value(parse: Callable[[str], Any], cell: str) -> bool:
    try:
        parse(cell)
    except Malformed:
        return False
    return True


def _region_of(name: str) -> str | None:
    try:
        return Region.parse(name).code
    except Malformed:
        return None


def _every_region(path: str, populations: dict[str, int]) -> dict[str, int]:
    """A population file lists all 21 regions: a region left out would silently get nothing."""
    missing = [r for r in Region.all() if r.code not in populations]
    if missing:
        raise Malformed(f"{path} lacks {len(missing)} of the 21 regions: "
                        + ", ".join(str(r) for r in missing)
                        + " (apportioning by population needs every region's population)")
    return populations


def _population(text: str) -> int:
    raw = text.strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise Malformed(f"population {text.strip()[:20]!r} is not a whole number of people")
    return int(raw)


def _positive_amount(text: str) -> Amount:
    return p.AmountType().parse(text)


@cli.command(context_settings=CONTEXT)
@with_grant
@click.option("--year", required=True, type=p.YEAR)
@click.option("--pot", required=True, type=p.CodeType("pot"), help="The agreement's pot.")
@click.option("--region", type=p.REGION, help="One region (with --amount).")
@click.option("--amount", type=p.AMOUNT, help="Its share; with --by-population, the sum to apportion.")
@click.option("--table", "table_file", type=click.Path(dir_okay=False),
              help="CSV of region,amount (or region,region_name,amount): an official table.")
@click.option("--by-population", "population_file", type=click.Path(dir_okay=False),
              help="CSV of region,population for all 21 regions: apportion by the largest "
                   "remainder method.")
@pass_session
def allocate(s: Session, grant_id: str, year: int, pot: str, region: str | None,
             amount: Amount | None, table_file: str | None, population_file: str | None) -> None:
    """Allocate a pot of GRANT's year to regions, in one atomic write.

    Give one of: --region R --amount A; --table FILE (CSV region,amount, header
    optional; a region's name may stand beside its code, as in a header
    region,region_name,amount or rows 12,Skåne,100, and a name that contradicts
    its code is refused naming the lines); --by-population FILE (CSV
    region,population listing all 21 regions), which splits the pot (or
    --amount) to the whole krona by the largest remainder method; the shares
    always sum exactly, ties go to the larger population, then the lower code.
    Either file may be comma or semicolon separated, with or without a byte order
    mark, amounts with a decimal comma or point (as a Swedish Excel saves a CSV).

    An allocation below what a region committed against its planning frame is
    still recorded; a "warning:" line on stderr names each region-year left
    with a shortfall.

    \b
    Examples:
      grants allocate professionsmiljarden --year 2018 --pot stimulus --region 23 --amount 8357305
      grants allocate professionsmiljarden --year 2016 --pot stimulus --table allocation-2016.csv
      grants allocate professionsmiljarden --year 2018 --pot stimulus --by-population pop.csv
    """
    ways = [bool(region), bool(table_file), bool(population_file)]
    if sum(ways) != 1:
        raise click.UsageError("give exactly one of --region, --table or --by-population")
    if region and amount is None:
        raise click.UsageError("--region needs --amount")
    if table_file and amount is not None:
        raise click.UsageError("--amount goes with --region or --by-population, not --table")
    if region:
        shares, source = {region: amount}, "entered"
    elif table_file:
        shares, source = _read_csv(table_file, "amount", _positive_amount), "table"
    else:
        populations = _every_region(population_file, _read_csv(population_file, "population", _population))
        shares = {r: a for r, a in s.app.apportion(grant_id, year, pot, amount, populations).items() if a}
        if not shares:
            raise Malformed(f"apportioning {amount} by population gives every region 0 kr; nothing to allocate")
        source = "by-population"
    new = s.app.allocate(grant_id, year, pot, shares, source, s.user)
    total = Amount(sum(a.ore for a in shares.values()))
    what = (f"{grant_id} {year} pot {pot}: {total.pretty()} to {plural(len(shares), 'region')}"
            + (f", {len(shares) - new} already allocated" if new and new < len(shares) else ""))
    done(bool(new), what)
    if len(shares) > 1 and s.fmt == "table":
        rows = [{"region": r, "region_name": Region(r).name, "amount": a} for r, a in sorted(shares.items())]
        s.out(rows, [("region", "region"), ("region_name", "name"), ("amount", "amount")], "")
    for code in sorted(shares):
        ry = s.app.region_year(grant_id, code, year)
        if ry.shortfall:
            click.echo(f"warning: {ry.label} has a shortfall of {ry.shortfall}: {ry.committed} committed"
                       + (f" and {ry.reserved} reserved" if ry.reserved else "")
                       + f" against {ry.allocated} allocated; no new commitment until decisions are "
                       "amended or revoked (see grants compliance)", err=True)


@cli.command(context_settings=CONTEXT)
@with_region_year
@click.option("--pot", required=True, type=p.CodeType("pot"))
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--on", required=True, type=p.DATE, help="The day the payer paid it out.")
@click.option("--ref", required=True, help="The payer's reference, unique within the grant's region-year; the "
                                           "same ref and content again records nothing.")
@pass_session
def pay(s: Session, grant_id: str, region: str, year: int, pot: str, amount: Amount, on, ref: str) -> None:
    """Record what the payer (SKL, Kammarkollegiet) paid out to a region against its
    requisitions of one pot: never more than is requisitioned (and so allocated).
    `balance` shows it as paid.

    Sending it again with the same --ref records nothing, so a retry is safe.

    \b
    Example:
      grants pay professionsmiljarden --region 23 --year 2018 --pot stimulus \\
        --amount 8357305 --on 2018-03-20 --ref SKL-UTB-2018-23
    """
    recorded = s.app.pay(grant_id, region, year, pot, amount, on, ref.strip(), s.user)
    done(recorded, f"{Region(region)} {year} paid {amount.pretty()} from pot {pot}, ref {ref.strip()}")
