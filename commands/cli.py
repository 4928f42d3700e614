"""The `grants` command line: parse, call the application, render.

Errors are mapped to exit codes in exactly one place, :meth:`GrantsGroup.main`:
one ``error:`` line on stderr, never a traceback (see ../shared/spec/cli.md).
"""

from __future__ import annotations

import csv
import datetime
import getpass
import io
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import click
from eventsourcing.persistence import PersistenceError

from commands import params as p
from commands.render import as_csv, as_json, as_table, render
from ledger import clock
from ledger.application import GrantLedger, is_contention, open_ledger
from ledger.errors import Corrupt, LedgerError, Malformed, NotFound, Refused
from ledger.storage import new_sqlite_ledger
from ledger.stores import imports_of
from ledger.values import Amount, Region, text_fault
from projections.balances import balance_rows
from projections.commitments import commitment_rows
from projections.compliance import compliance_rows
from projections.audit import upto
from projections.bounds import Cut
from projections.fold import LedgerView, entries_of, fold
from projections.persisted import ReadModels, audit_year as audit_from_models
from projections.intake import import_history, lines_of
from projections.verify import HistoryError, verify_store
from projections.history import export_lines, history_rows

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
NOTHING_THEN = "(nothing recorded by then)"


class GrantsGroup(click.Group):
    """A click group that reports every error as one ``error:`` line with cli.md's exit code.

    Every command that joins it (and its own options) gets the types that check text
    (:func:`commands.params.textual`): no value with control characters or bytes that
    are not UTF-8 reaches a command.
    """

    group_class = type  # `grant`, `agreement`: the same checks for their commands

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        p.textual(self.params)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        p.textual(cmd.params)
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            if isinstance(ctx.obj, Session):
                ctx.obj.recorded()
            return result
        except BaseException as e:
            if not (isinstance(e, (SystemExit, click.exceptions.Exit)) and not _exit_code(e)):
                if isinstance(ctx.obj, Session):
                    ctx.obj.failed()
            raise

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help())
            sys.exit(0)
        except click.ClickException as e:
            hint = ""
            if isinstance(e, click.UsageError) and e.ctx is not None:
                hint = f" (see '{e.ctx.command_path} --help')"
            _fail(e.format_message() + hint, e.exit_code)
        except click.Abort:
            _fail("aborted", 1)
        except LedgerError as e:
            _fail(str(e), e.exit_code)
        except PersistenceError as e:
            if is_contention(e):
                _fail("another writer kept the store busy; gave up and recorded nothing", 3)
            _fail(f"cannot use the store: {_first_line(e)}", 2)
        except (sqlite3.Error, OSError) as e:
            _fail(f"cannot use the store: {_first_line(e)}", 2)
        except Exception as e:
            if not type(e).__module__.startswith("psycopg"):
                raise
            _fail(f"cannot use the store: {_first_line(e)}", 2)  # a server error on a read model
        if isinstance(result, int) and result:
            sys.exit(result)
        sys.exit(0)


def _exit_code(e: BaseException) -> int:
    code = e.exit_code if isinstance(e, click.exceptions.Exit) else getattr(e, "code", 1)
    return 0 if code is None else code if isinstance(code, int) else 1


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _one_line(message: str) -> str:
    """The message with every character that is not printable text escaped (a value
    echoed by click or a store's error text can hold newlines or undecodable bytes)."""
    if text_fault(message) is None:
        return message
    return "".join(c if text_fault(c) is None else repr(c)[1:-1] for c in message)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {_one_line(message)}", err=True)
    sys.exit(code)


@attrs.define
class Session:
    """The context object: global options, and the ledger opened on first use."""

    db: str
    typed_user: str | None  # --user (or GRANTS_USER) as given; None when not given
    fmt: str
    ctx: click.Context
    _app: GrantLedger | None = None
    empty_then: bool = False  # an as-of answer before the grant's first recording
    recording: bool = False

    @property
    def user(self) -> str:
        """Who records. On PostgreSQL the role the server authenticated, with --user (if
        given and another name) beside it as a display name: "anna_rec (Anna Berg)"; the
        server refuses any other (see commands.db). On SQLite there is no server identity:
        --user as typed, else the login name (self-declared)."""
        if "://" in self.db:
            role = self._open(must_exist=False).server.role
            shown = (self.typed_user or "").strip()
            return role if not shown or shown == role else f"{role} ({shown})"
        return (self.typed_user or "").strip() or _default_user()

    @property
    def app(self) -> GrantLedger:
        """The ledger for a recording command, opened (and created if new) on first use;
        a PostgreSQL role that may not record is refused before anything is written."""
        app = self._open(must_exist=False)
        if app.server is not None and not app.server.may_record:
            raise Refused(f"role {app.server.role} may not record in this ledger (it is read-only)")
        self.recording = True
        return app

    @property
    def reader(self) -> GrantLedger:
        """The ledger for a query: a missing SQLite file is an error, never a new ledger."""
        return self._open(must_exist=True)

    def _open(self, must_exist: bool) -> GrantLedger:
        """Open the ledger once; nothing is written to a store that is not a ledger
        (see ``ledger.application.open_ledger``)."""
        if self._app is None:
            self._app = open_ledger(self.db, must_exist=must_exist)
            self.ctx.call_on_close(self._app.close)
        return self._app

    def failed(self) -> None:
        """The command failed: a ledger file it created for nothing goes again on close."""
        if self._app is not None:
            self._app.abandon()

    def recorded(self) -> None:
        """A recording command ended well: on PostgreSQL, bring the read models up to date
        now, so that a role that may only read (an auditor) finds them current. A failure
        here is left for the next query to report: the recording itself is done."""
        if not self.recording or self._app is None or self._app.server is None:
            return
        self.recording = False
        try:
            models = ReadModels(self.db)
            try:
                if models.writable:
                    models.catch_up(self._app)
            finally:
                models.close()
        except Exception:  # noqa: BLE001 (the next query catches up, or says what is wrong)
            pass

    def view(self, keep_entries: bool = False, position: int | None = None,
             as_of: datetime.datetime | None = None) -> LedgerView:
        """The fold of the log, or of its prefix up to a position or a moment, in whole
        commands (a note on stderr when a limit fell inside one, or beyond the log)."""
        cut = Cut()
        view = fold(upto(entries_of(self.reader), position, as_of, cut), keep_entries=keep_entries)
        self.notes(cut)
        return view

    def notes(self, cut: Cut) -> None:
        """Say on stderr what a replay limited by --position or --as-of answered."""
        for line in cut.notes():
            click.echo(f"note: {line}", err=True)

    def query(self, grant_id: str, position: int | None, as_of: datetime.datetime | None,
              persisted: Callable[[ReadModels], Any], folded: Callable[[LedgerView], Any] | None) -> Any:
        """An answer for "now" from the persisted read models; as of then, from a fold.

        As of a moment or position before the grant's first recording, the answer is
        empty (no rows, exit 0, "nothing recorded by then"); a grant that does not
        exist now is unknown (exit 1).
        """
        if position is None and as_of is None:
            models = self.models()
            if not models.has_grant(grant_id):
                raise unknown_grant(grant_id)
            return persisted(models)
        view = self.view(position=position, as_of=as_of)
        if grant_id not in view.grants:
            self.reader.grant(grant_id)  # NotFound (exit 1) when it is not recorded now either
            self.nothing_then(grant_id, view.position)
            return []
        return folded(view)

    def nothing_then(self, grant_id: str, position: int) -> None:
        """The grant exists now, but nothing of it was recorded by the moment asked."""
        self.empty_then = True
        click.echo(f"note: nothing of {grant_id} was recorded by then (as of position {position})",
                   err=True)

    def models(self) -> ReadModels:
        """The persisted read models, brought up to date with the log.

        A role that may not write them (an auditor's, on PostgreSQL) reads them as they are
        when they are current; when they are behind the log, it builds its own aside, in a
        scratch SQLite file, from the events (writing nothing on the server)."""
        app = self.reader
        models = ReadModels(self.db)
        self.ctx.call_on_close(models.close)
        if models.writable or models.position() >= app.last_position():
            models.catch_up(app)
            return models
        import tempfile

        scratch = tempfile.TemporaryDirectory(prefix="grants-read-")
        self.ctx.call_on_close(scratch.cleanup)
        aside = ReadModels(self.db, aside=os.path.join(scratch.name, "read-models.sqlite"))
        self.ctx.call_on_close(aside.close)
        aside.catch_up(app, helper=False)
        return aside

    def out(self, rows: list[dict[str, Any]], columns: list[tuple[str, str]], empty: str) -> None:
        click.echo(render(rows, self.fmt, columns, NOTHING_THEN if self.empty_then else empty))


pass_session = click.make_pass_decorator(Session)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name on this machine (e.g. a container without one)
        return "unknown"


@click.group(cls=GrantsGroup, context_settings=CONTEXT)
@click.option("--db", envvar="GRANTS_DB", default="grants.sqlite", show_default=True,
              help="SQLite file path, or postgresql://user@host:port/dbname[?schema=S]. A file or "
                   "schema that is not a grants ledger is refused and left as it was. Env: GRANTS_DB.")
@click.option("--user", envvar="GRANTS_USER", default=None,
              help="Who records; stored on every event (one line of printable text). On PostgreSQL "
                   "the role the server authenticated is stored, with this beside it as a display name "
                   "(anna_rec (Anna Berg)). Env: GRANTS_USER. Default on SQLite: your login name.")
@click.option("--format", "fmt", envvar="GRANTS_FORMAT", default="table", show_default=True,
              type=click.Choice(["table", "json", "csv"]), help="How queries print. Env: GRANTS_FORMAT.")
@click.version_option(package_name="grants")
@click.pass_context
def cli(ctx: click.Context, db: str, user: str | None, fmt: str) -> None:
    """grants: an event-sourced ledger for earmarked state grants to Sweden's regions.

    Every fact is recorded once, as an immutable event; balances, commitments and
    compliance are computed from the events. Global options go before the command.

    \b
    Start here:
      grants demo                                  # load Professionsmiljarden, show Jämtland 2018
      grants balance professionsmiljarden --region Jämtland --year 2018
      grants --format json compliance professionsmiljarden --year 2018

    Exit codes: 0 done, 1 refused by the ledger, 2 malformed input,
    3 gave up on a concurrent writer, 4 verify found the history altered.
    """
    if not (user or "").strip() and "://" not in db:
        fault = text_fault(_default_user())
        if fault:  # a login name from the system, checked like a typed one
            raise click.BadParameter(f"your login name {fault}; give --user", param_hint="'--user'")
    ctx.obj = Session(db=db, typed_user=user, fmt=fmt, ctx=ctx)


def _grant(f: Callable) -> Callable:
    """The GRANT argument every grant command takes."""
    return click.argument("grant_id", metavar="GRANT", type=p.CodeType("grant id"))(f)


def _grant_region_year(f: Callable) -> Callable:
    """GRANT, --region and --year: the region-year a command is about."""
    f = click.option("--year", required=True, type=p.YEAR)(f)
    f = click.option("--region", required=True, type=p.REGION)(f)
    return _grant(f)


def _done(recorded: bool, what: str) -> None:
    if recorded:
        click.echo(f"recorded: {what}")
    else:
        click.echo(f"unchanged: {what} (already recorded, nothing new)")


def _opt(name: str) -> str:
    return name.strip() if name else ""


# --------------------------------------------------------------------------- grant / agreement


@cli.group(context_settings=CONTEXT)
def grant() -> None:
    """Define a grant."""


@grant.command("define")
@_grant
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
    _done(recorded, f"grant {grant_id} ({name}, {years[0]}-{years[1]}, {len(purposes)} purposes)")


@cli.group(context_settings=CONTEXT)
def agreement() -> None:
    """Sign a year's agreement (överenskommelse)."""


@agreement.command("sign")
@_grant
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
@pass_session
def agreement_sign(s: Session, grant_id: str, year: int, signed_on, pots, report_due, earmarks,
                   payer: str, report_to: str, population_date, ref: str) -> None:
    """Record GRANT's agreement for one year, with its pots and earmarks.

    \b
    Example:
      grants agreement sign professionsmiljarden --year 2018 --signed-on 2017-12-14 \\
        --pot stimulus=651000000 --pot nurse-education=300000000 \\
        --earmark nurse-education=nurse-specialist-education \\
        --report-due 2019-02-15 --report-to Socialstyrelsen --payer SKL
    """
    recorded = s.app.sign_agreement(
        grant_id, year, signed_on=signed_on, pots=[[n, a.ore] for n, a in pots],
        earmarks=[list(e) for e in earmarks], report_due=report_due, payer=payer.strip(),
        report_to=report_to.strip(), population_date=population_date, ref=ref.strip(),
        recorded_by=s.user,
    )
    total = Amount(sum(a.ore for _, a in pots))
    _done(recorded, f"{grant_id} {year} agreement, {total.pretty()} in {len(pots)} pots")


# --------------------------------------------------------------------------- allocate


_CODE_COLUMNS = ("region", "code", "county_code", "länskod")
_NAME_COLUMNS = ("region_name", "name", "namn")


def _read_csv(path: str, value_column: str, parse: Callable[[str], Any]) -> dict[str, Any]:
    """Read ``region,<value_column>`` rows (header optional, extra columns ignored).

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
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
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
    raw = text.strip().replace(" ", "").replace("\u00a0", "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise Malformed(f"population {text.strip()[:20]!r} is not a whole number of people")
    return int(raw)


def _positive_amount(text: str) -> Amount:
    return p.AmountType().parse(text)


@cli.command(context_settings=CONTEXT)
@_grant
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
    what = (f"{grant_id} {year} pot {pot}: {total.pretty()} to {len(shares)} region(s)"
            + (f", {len(shares) - new} already allocated" if new and new < len(shares) else ""))
    _done(bool(new), what)
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


# --------------------------------------------------------------------------- region's money


@cli.command(context_settings=CONTEXT)
@_grant_region_year
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--on", type=p.DATE, default=None, help="When the frame was set.")
@click.option("--ref", default="", help="Optional reference, unique within the grant's region-year; "
                                        "the same ref with another frame is refused.")
@pass_session
def frame(s: Session, grant_id: str, region: str, year: int, amount: Amount, on, ref: str) -> None:
    """Set a region's planning frame for a year not yet allocated.

    Decisions for that year are checked against the frame until the allocation
    arrives; an allocation below what was committed shows as a shortfall. Setting
    the frame the year already has records nothing.

    \b
    Example:
      grants frame professionsmiljarden --region Jämtland --year 2018 --amount 12000000 \\
        --on 2016-03-01 --ref RS-2016-031
    """
    recorded = s.app.set_frame(grant_id, region, year, amount, on, s.user, ref=ref.strip())
    _done(recorded, f"{Region(region)} {year} planning frame {amount.pretty()}")


@cli.command(context_settings=CONTEXT)
@_grant_region_year
@click.option("--pot", required=True, type=p.CodeType("pot"))
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--on", required=True, type=p.DATE)
@click.option("--ref", required=True, help="Your reference, unique within the grant's region-year (e.g. a voucher or case number); the same ref and content again records nothing.")
@pass_session
def requisition(s: Session, grant_id: str, region: str, year: int, pot: str, amount: Amount,
                on, ref: str) -> None:
    """Requisition (part of) a region's allocation of one pot; never beyond it.

    Sending it again with the same --ref records nothing, so a retry is safe.

    \b
    Example:
      grants requisition professionsmiljarden --region 23 --year 2018 --pot stimulus \\
        --amount 8357305 --on 2018-03-01 --ref REK-2018-1
    """
    recorded = s.app.requisition(grant_id, region, year, pot, amount, on, ref.strip(), s.user)
    _done(recorded, f"{Region(region)} {year} requisitioned {amount.pretty()} from pot {pot}, ref {ref.strip()}")


@cli.command(context_settings=CONTEXT)
@_grant
@click.option("--region", required=True, type=p.REGION)
@click.option("--person", required=True, help="The health-care director's name.")
@click.option("--role", default="hälso- och sjukvårdsdirektör", show_default=True)
@click.option("--from", "valid_from", type=p.DATE, default=None, help="First day of the authority.")
@click.option("--until", "valid_until", type=p.DATE, default=None, help="Last day of the authority.")
@pass_session
def authorise(s: Session, grant_id: str, region: str, person: str, role: str, valid_from,
              valid_until) -> None:
    """Authorise a person to take the region's decisions on GRANT.

    Only an authorised person's decisions, amendments and revocations are accepted;
    `grants deauthorise` ends the authority, `grants authorisations` lists it.

    \b
    Example:
      grants authorise professionsmiljarden --region Jämtland --person "Anna Berg" --from 2016-01-01
    """
    if not person.strip():
        raise click.BadParameter("needs a name", param_hint="'--person'")
    recorded = s.app.authorise(grant_id, region, person.strip(), role.strip(), valid_from,
                               valid_until, s.user)
    _done(recorded, f"{person.strip()} may decide for {Region(region)}")


@cli.command(context_settings=CONTEXT)
@_grant
@click.option("--region", required=True, type=p.REGION)
@click.option("--decision", "decision_id", required=True, type=p.IdType("decision id"))
@click.option("--decided-by", required=True, help="The authorised person who decided.")
@click.option("--on", required=True, type=p.DATE, help="The decision's date.")
@click.option("--area", required=True, help="Business area (verksamhetsområde).")
@click.option("--activity", required=True, help="The activity that gets money.")
@click.option("--purpose", required=True, type=p.CodeType("purpose"), help="One of the grant's purposes.")
@click.option("--amount", "amounts", required=True, multiple=True, type=p.YEAR_AMOUNT,
              help="YEAR=AMOUNT, one per year of the schedule (repeatable).")
@click.option("--continuation", default="", help="How the work continues after the grant ends.")
@click.option("--ref", default="", help="The decision's reference (diarienummer).")
@pass_session
def decide(s: Session, grant_id: str, region: str, decision_id: str, decided_by: str, on,
           area: str, activity: str, purpose: str, amounts, continuation: str, ref: str) -> None:
    """Record a decision that grants money to an activity, for one or more years.

    Refused beyond a year's available money, while a shortfall is outstanding, in a
    closed year, by a person not authorised on --on (the refusal names their
    authorisations and dates), or dated after today (the recording day in Sweden).
    The decider is stored as authorised ("anna berg" decides as "Anna Berg").
    Sending the same decision again records nothing; the same id with other content
    is refused.

    \b
    Example:
      grants decide professionsmiljarden --region 23 --decision JH-2016-07 \\
        --decided-by "Anna Berg" --on 2016-05-10 --area "Hud, infektion, medicin" \\
        --activity "Mobilt närvårdsteam" --purpose competence-use \\
        --amount 2017=2500000 --amount 2018=2500000
    """
    schedule = p.schedule_of(amounts)
    recorded = s.app.decide(grant_id, decision_id, region, decided_by.strip(), on, area.strip(),
                            activity.strip(), purpose, schedule, continuation.strip(), ref.strip(),
                            s.user)
    plan = ", ".join(f"{y}: {a.pretty()}" for y, a in sorted(schedule.items()))
    _done(recorded, f"decision {decision_id} for {Region(region)} ({plan})")


@cli.command(context_settings=CONTEXT)
@_grant
@click.option("--decision", "decision_id", required=True, type=p.IdType("decision id"))
@click.option("--amount", "amounts", required=True, multiple=True, type=p.YEAR_AMOUNT,
              help="YEAR=AMOUNT: the whole new schedule (repeatable); years left out become 0.")
@click.option("--decided-by", required=True)
@click.option("--on", required=True, type=p.DATE)
@click.option("--reason", required=True)
@pass_session
def amend(s: Session, grant_id: str, decision_id: str, amounts, decided_by: str, on,
          reason: str) -> None:
    """Replace a decision's schedule with a new one.

    A year may not fall below what is already booked on it; increases are checked
    like a new decision. Refused if dated after today or before the decision's last
    change, or by a person not authorised on --on.

    \b
    Example:
      grants amend professionsmiljarden --decision JH-2016-07 --amount 2017=2500000 \\
        --amount 2018=2000000 --decided-by "Anna Berg" --on 2017-09-01 --reason "smaller team"
    """
    schedule = p.schedule_of(amounts)
    recorded = s.app.amend(grant_id, decision_id, schedule, decided_by.strip(), on, reason.strip(),
                           s.user)
    plan = ", ".join(f"{y}: {a.pretty()}" for y, a in sorted(schedule.items()))
    _done(recorded, f"decision {decision_id} amended ({plan})")


@cli.command(context_settings=CONTEXT)
@_grant
@click.option("--decision", "decision_id", required=True, type=p.IdType("decision id"))
@click.option("--decided-by", required=True)
@click.option("--on", required=True, type=p.DATE)
@click.option("--reason", required=True)
@pass_session
def revoke(s: Session, grant_id: str, decision_id: str, decided_by: str, on, reason: str) -> None:
    """Revoke a decision: its unspent rest is released, what is booked stays committed.

    Refused if dated after today or before the decision's last change, or by a person
    not authorised on --on. Revoking a revoked decision again with the same reason
    records nothing; with another reason it is refused.

    \b
    Example:
      grants revoke professionsmiljarden --decision JH-2016-07 --decided-by "Anna Berg" \\
        --on 2018-06-01 --reason "activity stopped"
    """
    recorded = s.app.revoke(grant_id, decision_id, decided_by.strip(), on, reason.strip(), s.user)
    _done(recorded, f"decision {decision_id} revoked")


@cli.command(context_settings=CONTEXT)
@_grant
@click.option("--decision", "decision_id", required=True, type=p.IdType("decision id"))
@click.option("--year", required=True, type=p.YEAR, help="The decision's year the cost belongs to.")
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--booked-on", required=True, type=p.DATE)
@click.option("--object", "object_code", required=True, help="The accounting object, e.g. 9902.")
@click.option("--voucher", required=True, type=p.IdType("voucher"), help="Voucher id, unique within the grant.")
@click.option("--text", default="", help="What the cost was.")
@pass_session
def spend(s: Session, grant_id: str, decision_id: str, year: int, amount: Amount, booked_on,
          object_code: str, voucher: str, text: str) -> None:
    """Book a cost against a decision for one year.

    Refused beyond the decision's amount for that year, and unless --booked-on lies in
    --year, on or after the decision's date and not after today (`--year 2018
    --booked-on 2016-01-05` is refused). The same voucher sent again with the same
    content records nothing; with other content it is refused.

    \b
    Example:
      grants spend professionsmiljarden --decision JH-2016-07 --year 2018 --amount 125000 \\
        --booked-on 2018-03-31 --object 9902 --voucher V-2018-0412
    """
    recorded = s.app.spend(grant_id, decision_id, year, amount, booked_on, object_code.strip(),
                           voucher, text.strip(), s.user)
    _done(recorded, f"{amount.pretty()} booked on decision {decision_id} for {year}, voucher {voucher}")


@cli.command(context_settings=CONTEXT)
@_grant
@click.option("--voucher", required=True, type=p.IdType("voucher"))
@click.option("--on", required=True, type=p.DATE)
@click.option("--reason", required=True)
@pass_session
def reverse(s: Session, grant_id: str, voucher: str, on, reason: str) -> None:
    """Reverse a wrong booking (it is never deleted); --on may not be after today.

    \b
    Example:
      grants reverse professionsmiljarden --voucher V-2018-0412 --on 2018-04-02 --reason "wrong object"
    """
    recorded = s.app.reverse(grant_id, voucher, on, reason.strip(), s.user)
    _done(recorded, f"voucher {voucher} reversed")


@cli.command(context_settings=CONTEXT)
@_grant_region_year
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--purpose", required=True, type=p.CodeType("purpose"))
@click.option("--on", required=True, type=p.DATE)
@click.option("--ref", required=True, help="Your reference, unique within the grant's region-year (e.g. a voucher or case number); the same ref and content again records nothing.")
@pass_session
def reserve(s: Session, grant_id: str, region: str, year: int, amount: Amount, purpose: str,
            on, ref: str) -> None:
    """Set part of a year's available money aside for a purpose.

    Sending it again with the same --ref records nothing, so a retry is safe.

    \b
    Example:
      grants reserve professionsmiljarden --region 23 --year 2018 --amount 2228598 \\
        --purpose nurse-specialist-education --on 2018-04-06 --ref RES-2018-1
    """
    recorded = s.app.reserve(grant_id, region, year, amount, purpose, on, ref.strip(), s.user)
    _done(recorded, f"{Region(region)} {year}: {amount.pretty()} reserved for {purpose}, ref {ref.strip()}")


@cli.command(context_settings=CONTEXT)
@_grant_region_year
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--on", required=True, type=p.DATE)
@click.option("--ref", required=True, help="Your reference, unique within the grant's region-year (e.g. a voucher or case number); the same ref and content again records nothing.")
@click.option("--pot", type=p.CodeType("pot"), default=None,
              help="The pot repaid to (default: the first pot not earmarked).")
@pass_session
def repay(s: Session, grant_id: str, region: str, year: int, amount: Amount, on, ref: str,
          pot: str | None) -> None:
    """Return uncommitted money to the paying authority; never beyond what is available.

    Sending it again with the same --ref records nothing, so a retry is safe.

    \b
    Example:
      grants repay professionsmiljarden --region 23 --year 2018 --amount 100000 --on 2019-03-01 \\
        --ref ÅB-2019-4
    """
    recorded = s.app.repay(grant_id, region, year, amount, on, ref.strip(), s.user, pot=pot)
    _done(recorded, f"{Region(region)} {year}: {amount.pretty()} repaid, ref {ref.strip()}")


@cli.command(context_settings=CONTEXT)
@_grant_region_year
@click.option("--filed-on", required=True, type=p.DATE)
@click.option("--covers", multiple=True, type=p.CodeType("purpose"),
              help="A purpose the report covers (repeatable).")
@click.option("--patient-units/--no-patient-units", default=None,
              help="Does it state how patient-near units were involved?")
@click.option("--employee-reps/--no-employee-reps", default=None,
              help="Does it state how employee representatives were involved?")
@click.option("--to", default=None, help="Recipient (default: the agreement's).")
@click.option("--ref", default="")
@pass_session
def report(s: Session, grant_id: str, region: str, year: int, filed_on, covers, patient_units,
           employee_reps, to: str | None, ref: str) -> None:
    """File a region's yearly follow-up report; --filed-on may not be after today.

    \b
    Example:
      grants report professionsmiljarden --region 23 --year 2018 --filed-on 2019-02-10 \\
        --covers it-admin --covers competence-use --patient-units --employee-reps
    """
    app = s.app
    models = s.models()
    recorded = app.report(grant_id, region, year, filed_on, list(covers), patient_units,
                          employee_reps, to.strip() if to else None, ref.strip(), s.user,
                          seal=lambda: models.seal(app, grant_id, region, year))
    _done(recorded, f"{Region(region)} {year} report filed {filed_on.isoformat()}")


@cli.command(context_settings=CONTEXT)
@_grant_region_year
@click.option("--on", required=True, type=p.DATE)
@pass_session
def close(s: Session, grant_id: str, region: str, year: int, on) -> None:
    """Close a region's year: nothing new is accepted until it is reopened.

    Closing a closed year records nothing.

    \b
    Example:
      grants close professionsmiljarden --region 23 --year 2018 --on 2019-03-31
    """
    recorded = s.app.close_year(grant_id, region, year, on, s.user)
    _done(recorded, f"{Region(region)} {year} closed")


@cli.command(context_settings=CONTEXT)
@_grant_region_year
@click.option("--on", required=True, type=p.DATE)
@click.option("--reason", required=True)
@pass_session
def reopen(s: Session, grant_id: str, region: str, year: int, on, reason: str) -> None:
    """Reopen a closed year, with the reason recorded.

    Reopening an open year records nothing.

    \b
    Example:
      grants reopen professionsmiljarden --region 23 --year 2018 --on 2019-04-15 \\
        --reason "late invoice from supplier"
    """
    recorded = s.app.reopen_year(grant_id, region, year, on, reason.strip(), s.user)
    _done(recorded, f"{Region(region)} {year} reopened")


# --------------------------------------------------------------------------- queries

BALANCE_COLUMNS = [
    ("region", "region"), ("region_name", "name"), ("year", "year"), ("allocated", "allocated"),
    ("requisitioned", "requisitioned"), ("committed", "committed"), ("reserved", "reserved"),
    ("spent", "spent"), ("available", "available"), ("shortfall", "shortfall"),
]
COMMITMENT_COLUMNS = [
    ("decision", "decision"), ("region", "region"), ("year", "year"), ("area", "area"),
    ("activity", "activity"), ("purpose", "purpose"), ("amount", "amount"), ("spent", "spent"),
    ("remaining", "remaining"), ("status", "status"),
]
COMPLIANCE_COLUMNS = [
    ("region", "region"), ("region_name", "name"), ("year", "year"), ("report_due", "report due"),
    ("report_status", "report"), ("earmarked_used_elsewhere", "earmarked used elsewhere"),
    ("money_at_risk", "at risk"), ("status", "status"),
]
HISTORY_COLUMNS = [
    ("position", "pos"), ("recorded_at", "recorded at (UTC)"), ("recorded_by", "by"),
    ("type", "type"), ("effective", "effective"), ("summary", "summary"),
]


def unknown_grant(grant_id: str) -> NotFound:
    return NotFound(f"unknown grant {grant_id!r} (define it with 'grants grant define')")


def _require_grant(view: LedgerView, grant_id: str) -> None:
    if grant_id not in view.grants:
        raise NotFound(f"unknown grant {grant_id!r} in the history replayed (positions 1-{view.position})")


def _time_options(f: Callable) -> Callable:
    f = click.option("--position", type=p.PositionType(0), default=None,
                     help="Replay only the first N positions of the log, in whole commands: N inside "
                          "one command's write answers as of that command's start (a note on stderr "
                          "says so, and when N is beyond the log).")(f)
    return click.option("--as-of", "as_of", type=p.TIMESTAMP, default=None,
                        help="Replay only what was recorded by then, in whole commands: a date (its end, "
                             "UTC) or an ISO date-time with offset. Before the grant's first recording: "
                             "no rows, '(nothing recorded by then)'.")(f)


def _judging_day(judge_on: datetime.date | None, as_of: datetime.datetime | None) -> datetime.date:
    if judge_on:
        return judge_on
    return as_of.date() if as_of else clock.recorded_day(clock.now())  # today, in Sweden


def _query_options(f: Callable) -> Callable:
    f = _time_options(f)
    f = click.option("--year", type=p.YEAR, default=None, help="Only this year.")(f)
    f = click.option("--region", type=p.REGION, default=None, help="Only this region.")(f)
    return _grant(f)


@cli.command(context_settings=CONTEXT)
@_query_options
@pass_session
def balance(s: Session, grant_id: str, region: str | None, year: int | None, as_of,
            position: int | None) -> None:
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
    """
    rows = s.query(grant_id, position, as_of,
                   lambda models: models.balance_rows(grant_id, region, year),
                   lambda view: balance_rows(view, grant_id, region, year))
    s.out(rows, BALANCE_COLUMNS, "(no balances recorded)")


@cli.command(context_settings=CONTEXT)
@_query_options
@pass_session
def commitments(s: Session, grant_id: str, region: str | None, year: int | None, as_of,
                position: int | None) -> None:
    """Each decision's commitment per year: amount, spent, remaining, status
    (live, amended, revoked).

    \b
    Example:
      grants commitments professionsmiljarden --region 23 --year 2018
    """
    rows = s.query(grant_id, position, as_of,
                   lambda models: models.commitment_rows(grant_id, region, year),
                   lambda view: commitment_rows(view, grant_id, region, year))
    s.out(rows, COMMITMENT_COLUMNS, "(no decisions recorded)")


@cli.command(context_settings=CONTEXT)
@_query_options
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
    day = _judging_day(judge_on, as_of)
    rows = s.query(grant_id, position, as_of,
                   lambda models: compliance_rows(models.view_for(grant_id, region, year), grant_id, day,
                                                  region, year),
                   lambda view: compliance_rows(view, grant_id, day, region, year))
    s.out(rows, COMPLIANCE_COLUMNS, "(no region-years recorded)")
    if s.fmt == "table":
        for row in rows:
            if row["findings"]:
                click.echo(f"\n{row['region']} {row['region_name']} {row['year']}:")
                for finding in row["findings"]:
                    click.echo(f"  - {finding}")


@cli.command(context_settings=CONTEXT)
@_grant
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
    view = s.view(keep_entries=True)
    _require_grant(view, grant_id)
    if decision_id is not None and (grant_id, decision_id) not in view.decisions:
        raise NotFound(f"unknown decision {decision_id!r} in {grant_id}")
    s.out(history_rows(view, grant_id, region, decision_id), HISTORY_COLUMNS, "(no events)")


AUDIT_EVENT_COLUMNS = [
    ("position", "pos"), ("recorded_at", "recorded at (UTC)"), ("recorded_by", "by"),
    ("effective", "effective"), ("type", "type"), ("summary", "summary"),
]


@cli.command(context_settings=CONTEXT)
@_grant
@click.option("--year", required=True, type=p.YEAR, help="The year to audit.")
@click.option("--region", type=p.REGION, default=None, help="Only this region.")
@_time_options
@click.option("--on", "judge_on", type=p.DATE, default=None,
              help="Judge compliance as on that day (default: the --as-of day, else today).")
@pass_session
def audit(s: Session, grant_id: str, year: int, region: str | None, as_of, position: int | None,
          judge_on) -> None:
    """The controller's view of one year: every event that touched it (recorded time
    and effective date apart), the opening position carried in from earlier years'
    decisions, the closing balances, commitments and compliance, each filed report
    beside the year as it stands now, a reconciliation of domain.md's identities, and
    the digest of exactly the history replayed.

    With --as-of or --position it answers as the ledger stood then, in whole
    commands (a limit inside one command's atomic write answers as of that
    command's start, with a "note:" on stderr; the position printed is the one
    answered); two auditors who get the same digest replayed the same history.

    \b
    Example:
      grants audit professionsmiljarden --year 2018 --region Jämtland
      grants audit professionsmiljarden --year 2018 --as-of 2019-02-15T23:59:59+01:00
      grants --format json audit professionsmiljarden --year 2018 --position 42
    """
    cut = Cut()
    result = s.query(grant_id, None, None,
                     lambda models: audit_from_models(models, s.reader, grant_id, year, region,
                                                      position, as_of, _judging_day(judge_on, as_of), cut),
                     None)
    s.notes(cut)
    if not result["recorded"]:
        s.nothing_then(grant_id, result["position"])
    if s.fmt == "json":
        click.echo(as_json(result))
        return
    if s.fmt == "csv":
        click.echo(as_csv(result["events"], [k for k, _ in AUDIT_EVENT_COLUMNS] + ["region"]))
        return
    click.echo(_audit_text(result))


def _audit_text(r: dict[str, Any]) -> str:
    where = f"{Region(r['region'])}" if r["region"] else "all regions"
    last = r["last_recorded_at"].strftime("%Y-%m-%d %H:%M:%S %Z") if r["last_recorded_at"] else "-"
    as_of = r["as_of"].strftime("%Y-%m-%d %H:%M:%S %Z") if r["as_of"] else "now"
    out = [
        f"Audit of {r['grant']} {r['year']}, {where}",
        f"as of {as_of}: history replayed: positions 1-{r['position']}, last recorded {last}",
        f"digest: {r['digest']}",
        "",
    ]
    if not r["recorded"]:
        return "\n".join(out + [NOTHING_THEN])
    out += [
        f"Events that touched {r['year']} ({len(r['events'])}, in recording order):",
        as_table(r["events"], AUDIT_EVENT_COLUMNS, "  (none)"),
        "",
        "Opening position (commitments carried in from decisions of earlier years):",
        as_table(r["opening"], [("region", "region"), ("decision", "decision"),
                                ("decided_on", "decided on"), ("amount", "amount")], "  (none)"),
        "",
        "Closing balances:",
        as_table(r["balances"], BALANCE_COLUMNS, "  (none)"),
        "",
        "Commitments:",
        as_table(r["commitments"], COMMITMENT_COLUMNS, "  (none)"),
        "",
        f"Compliance (judged on {r['compliance'][0]['judged_on'].isoformat() if r['compliance'] else '-'}):",
        as_table(r["compliance"], COMPLIANCE_COLUMNS, "  (none)"),
    ]
    for row in r["compliance"]:
        out.extend(f"  - {row['region']} {f}" for f in row["findings"])
    out += ["", "Filed reports, as filed and as the year stands now:"]
    if not r["reports"]:
        out.append("  (no sealed report)")
    for rep in r["reports"]:
        state = "unchanged since filed" if not rep["changed"] else "CHANGED since filed"
        out.append(f"  {Region(rep['region'])}: filed {rep['filed_on'].isoformat()} at position "
                   f"{rep['position']} ({rep['digest'][:19]}…): {state}")
        for key in rep["changed"]:
            out.append(f"    {key}: {rep['as_filed'][key].pretty()} as filed, {rep['now'][key].pretty()} now")
        for change in rep["changed_by"]:
            out.append(f"    changed by position {change['position']} ({change['type']}): {change['summary']}")
    failing = [c for c in r["reconciliation"] if not c["holds"]]
    out += ["", f"Reconciliation: {len(r['reconciliation']) - len(failing)} of "
                f"{len(r['reconciliation'])} checks hold"
                + (" — the year adds up." if not failing else " — THE YEAR DOES NOT ADD UP:")]
    out.extend(f"  - {c['check']}: {c['detail']}" for c in failing)
    return "\n".join(out)



@cli.command(context_settings=CONTEXT)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output (whole, or not at all).")
@pass_session
def export(s: Session, output: str | None) -> None:
    """Write every event, in recording order, as JSON Lines (one event a line, with
    its position, recorded time, recorder, type and data).

    With --output, the file appears (or replaces the one there) only once it is
    complete: an export that is interrupted leaves no partial file behind at that path.

    \b
    Example:
      grants export --output ledger.jsonl
    """
    lines = export_lines(entries_of(s.reader))
    if output is None:
        for line in lines:
            click.echo(line)
        return
    try:
        _write_whole(output, lines)
    except OSError as e:
        raise Malformed(f"cannot write {output}: {e.strerror}") from None


def _write_whole(path: str, lines: Iterable[str]) -> None:
    """Write lines to a file beside ``path``, then rename it over ``path``: a crash
    (kill -9, power cut) leaves the old file or the whole new one, never a part."""
    real = os.path.realpath(path)
    if os.path.exists(real) and not os.path.isfile(real):  # a device or a pipe: straight to it
        with open(path, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
        return
    partial = f"{real}.{os.getpid()}.part"
    try:
        with open(partial, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, real)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _progress(label: str, length: int | None, show_pos: bool = True, steps: int = 1):
    """A progress bar on a terminal (redrawn every ``steps``); silent when output is piped."""
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=show_pos,
                             update_min_steps=steps) if sys.stderr.isatty() else _Quiet()


class _Quiet:
    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def update(self, n: int) -> None:
        return None


@cli.command("import", context_settings=CONTEXT)
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@pass_session
def import_(s: Session, path: str) -> None:
    """Load a JSON Lines file written by `grants export` into an empty ledger.

    Every line is type-checked field by field and every event re-checked against every
    rule, on the history before it; the original positions, recording times and
    recorders are kept. The file is streamed and written in batches inside one
    transaction, committed only once the last line passed and every year reconciles:
    a malformed or inconsistent file is refused whole (exit 2, naming the line) and
    nothing is written; a ledger that holds events is refused (exit 1). Use it to
    move a ledger between SQLite and PostgreSQL: balances, audits, digests and
    export come out identical (a history whose positions skip numbers, as
    PostgreSQL's may, imports only into PostgreSQL).

    \b
    Example:
      grants --db grants.sqlite export --output ledger.jsonl
      grants --db postgresql://postgres@127.0.0.1:5432/grants import ledger.jsonl
    """
    try:
        f = open(path, "rb")
    except OSError as e:
        raise Malformed(f"cannot read {path}: {e.strerror}") from None
    try:
        import hashlib

        sha256 = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha256.update(chunk)
        f.seek(0)
        size = os.fstat(f.fileno()).st_size
        with f, _progress("importing", size, show_pos=False, steps=max(1, size // 1000)) as bar:
            if "://" not in s.db and not os.path.exists(s.db):
                with new_sqlite_ledger(s.db) as app:  # no file is left behind if it is refused
                    checker = import_history(app, lines_of(f), s.db, progress=bar.update)
            else:
                checker = import_history(s.app, lines_of(f), s.db, progress=bar.update,
                                         file_sha256=sha256.hexdigest())
    except Malformed as e:
        raise Malformed(f"{path}: {e}") from None
    click.echo(f"imported {checker.digest.count} events from {path}; digest {checker.digest.value}")


@cli.command(context_settings=CONTEXT)
@click.option("--digest", "witness", default=None, metavar="DIGEST",
              help="A digest printed earlier (by audit, verify, import or a sealed report): "
                   "prove the history up to --position is still exactly that one.")
@click.option("--position", type=p.PositionType(1), default=None,
              help="With --digest: the last position that digest covers (default: the whole log).")
@pass_session
def verify(s: Session, witness: str | None, position: int | None) -> None:
    """Check the stored history: every event decodes, versions run without gaps, each
    event re-checks against the rules on the history before it, sealed reports' digests
    are ones the history passed through, the digests the read models computed as they
    applied the events still hold, and every year reconciles.

    With --digest (and --position), also prove that the history up to that position is
    exactly the one an earlier audit, verify or sealed report printed: any later edit
    before it shows, even one the read models have since taken in.

    Exit 4 when the history was altered, has missing or reordered events, or is not
    the witnessed one.

    \b
    Examples:
      grants verify
      grants verify --digest sha256:3f5c… --position 1200
    """
    if position is not None and witness is None:
        raise click.UsageError("--position goes with --digest")
    if witness is not None and not _is_digest(witness):
        raise click.BadParameter("a digest is 'sha256:' and 64 hex digits", param_hint="'--digest'")
    app = s.reader
    # SQLite numbers positions without gaps, so a gap is a removed event; PostgreSQL's
    # sequence may skip numbers of rolled-back writes, so there only versions tell.
    models = ReadModels(s.db)
    s.ctx.call_on_close(models.close)
    try:
        with _progress("verifying", app.last_position()) as bar:
            report = verify_store(app, models, contiguous="://" not in s.db,
                                  witness=None if witness is None else (position, witness),
                                  progress=bar.update)
    except HistoryError as e:
        click.echo(f"error: stored history fails verification at {e}", err=True)
        sys.exit(4)
    except Corrupt as e:
        click.echo(f"error: stored history fails verification: {e}", err=True)
        sys.exit(4)
    for line in report:
        click.echo(line)
    for row in imports_of(app):
        at = row["at"].astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(f"imported by {row['role']} at {at}: positions {row['first_position']}-"
                   f"{row['last_position']} from a file with SHA-256 {row['file_sha256']}; "
                   f"digest {row['digest']}")


def _is_digest(text: str) -> bool:
    hexpart = text.removeprefix("sha256:")
    return text.startswith("sha256:") and len(hexpart) == 64 and all(c in "0123456789abcdef" for c in hexpart)


@cli.command(context_settings=CONTEXT)
@pass_session
def rebuild(s: Session) -> None:
    """Rebuild every persisted read model (balances, commitments, the aggregates
    compliance reads) from position 0, showing progress on a terminal.

    Queries for "now" read these models, which every query first brings up to date
    incrementally; a rebuild is never needed for correctness, only to start afresh.

    \b
    Example:
      grants rebuild
    """
    import time

    app = s.reader
    models = ReadModels(s.db)
    s.ctx.call_on_close(models.close)
    if not models.writable:
        raise Refused(f"role {app.server.role} may not rebuild the read models (it is read-only; "
                      "a recorder or the owner may)")
    started = time.perf_counter()
    with _progress("rebuilding", app.last_position()) as bar:
        count = models.rebuild(app, progress=bar.update)
    click.echo(f"rebuilt the read models from {count} events in {time.perf_counter() - started:.1f} s; "
               f"position {models.position()}")


from commands.demo import demo  # noqa: E402  (registers `grants demo`)

cli.add_command(demo)

from commands.db import db  # noqa: E402  (registers `grants db init`)

cli.add_command(db)

from commands.authority import authorisations, deauthorise  # noqa: E402  (authority that can end)

cli.add_command(deauthorise)
cli.add_command(authorisations)


def main() -> None:
    cli.main(prog_name="grants")
