"""`grants sie import` and `grants sie reconcile`: bookings from the region's books (SIE 4).

Parse the options, read the file with :mod:`ledger.sie` (streamed, with a progress bar
on a terminal), find the grant's cost rows with :mod:`ledger.sie_books`, book them all
at once through the application (all or nothing), render.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from commands import params as p
from commands.group import cli
from commands.options import CONTEXT, progress
from commands.dialects import bom
from commands.render import as_csv, as_json, render
from commands.session import Session, pass_session
from ledger.books import Booked
from ledger.errors import Malformed, Refused
from ledger.sie import read_sie
from ledger.sie_books import DEFAULT_ACCOUNTS, Accounts, FileBooks, byte_lines, grant_rows, read_map
from ledger.values import Amount, Region

ENCODINGS = ("auto", "cp437", "utf-8", "latin-1")
SUMMARY_COLUMNS = [("decision", "decision"), ("year", "year"), ("rows", "rows"), ("amount", "amount"),
                   ("new", "new"), ("unchanged", "unchanged")]
BOOKING_KEYS = ["voucher", "decision", "year", "amount", "booked_on", "text", "new"]
RECONCILE_COLUMNS = [("year", "year"), ("books", "books"), ("balances", "balances"), ("ledger", "ledger"),
                     ("difference", "difference")]


@cli.group(context_settings=CONTEXT)
def sie() -> None:
    """Bookings from the region's books: import an SIE 4 file's grant cost rows, and
    reconcile the books with the ledger (see docs/sie.md)."""


def _file_options(f: Callable) -> Callable:
    f = click.option("--encoding", type=click.Choice(ENCODINGS), default="auto", show_default=True,
                     help="The file's text encoding: auto takes a UTF-8 BOM or valid UTF-8, else code "
                          "page 437 (SIE's PC8).")(f)
    f = click.option("--accounts", default=DEFAULT_ACCOUNTS, show_default=True,
                     help="The accounts whose rows can be grant costs: comma-separated ranges.")(f)
    f = click.option("--dimension", required=True, type=click.IntRange(1, 10**6),
                     help="The object dimension the grant's object is in (e.g. 20).")(f)
    f = click.option("--region", required=True, type=p.REGION, help="The region whose books the file holds.")(f)
    f = click.option("--grant", "grant_id", required=True, type=p.CodeType("grant id"), help="The grant.")(f)
    return click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))(f)


def _read(s: Session, path: str, grant_id: str, region: str, dimension: int, accounts: str, encoding: str,
          mapping: dict | None, label: str) -> FileBooks:
    """The file's grant rows and totals, on the object the region books the grant on."""
    ranges = Accounts.parse(accounts)
    object_code = s.reader.grant(grant_id).object_for(region)
    if not object_code:
        raise Malformed(f"{grant_id} has no accounting object for {Region(region)} "
                        "(grant define --accounting-object, or grants object)")
    try:
        f = open(path, "rb")
    except OSError as e:
        raise Malformed(f"cannot read {path}: {e.strerror}") from None
    size = os.fstat(f.fileno()).st_size
    seen = [0]
    with f, progress(label, size, show_pos=False, steps=max(1, size // 1000)) as bar:
        def lines() -> Any:
            last = 0
            for line in byte_lines(f, seen):
                if seen[0] - last >= 65536:
                    bar.update(seen[0] - last)
                    last = seen[0]
                yield line
        try:
            return grant_rows(read_sie(lines(), encoding), dimension=dimension, object=object_code,
                              accounts=ranges, mapping=mapping)
        except Malformed as e:
            raise Malformed(f"{path}: {e}") from None


@sie.command("import", context_settings=CONTEXT)
@_file_options
@click.option("--map", "map_path", required=True, type=click.Path(dir_okay=False),
              help="CSV with the header dimension,object,decision: which decision each object's rows are.")
@click.option("--dry-run", is_flag=True, help="Check and show everything; record nothing.")
@pass_session
def sie_import(s: Session, path: str, grant_id: str, region: str, dimension: int, accounts: str,
               encoding: str, map_path: str, dry_run: bool) -> None:
    """Book an SIE 4 file's grant cost rows on their decisions, all at once.

    A grant cost row is a #TRANS or #RTRANS row (not a struck #BTRANS) on an account
    in --accounts whose object list holds the object the region books the grant on
    in --dimension; the map says which decision it belongs to (exactly one must
    match). A negative row is a credit. Its voucher id is
    <fiscal year>-<series>-<number>-<row>, so importing the file again, or a later
    file that repeats earlier months, records only what is new. If any row cannot
    be booked, nothing is recorded (exit 1, one line per row saying why); a file
    that cannot be read, an unbalanced voucher or a wrong #KSUMMA is exit 2.

    \b
    Example:
      grants sie import jamtland-2018.se --grant professionsmiljarden --region Jämtland \\
        --dimension 20 --map jamtland-map.csv --dry-run
    """
    try:
        with open(map_path, encoding="utf-8-sig", newline="") as f:
            mapping = read_map(f, map_path)
    except OSError as e:
        raise Malformed(f"cannot read {map_path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise Malformed(f"{map_path} is not UTF-8 text") from None
    found = _read(s, path, grant_id, region, dimension, accounts, encoding, mapping, "reading")
    app = s.app
    booked = app.book_all(grant_id, region, found.entries, s.user, record=not dry_run)
    _show_import(s, found, booked, dry_run)


def _show_import(s: Session, found: FileBooks, booked: Booked, dry_run: bool) -> None:
    new = {e.voucher for e in booked.new}
    bookings = [{"voucher": e.voucher, "decision": e.decision_id, "year": e.year, "amount": e.amount,
                 "booked_on": e.booked_on, "text": e.text, "new": e.voucher in new} for e in found.entries]
    summary: dict[tuple[str, int], dict[str, Any]] = {}
    for b in bookings:
        row = summary.setdefault((b["decision"], b["year"]), {"decision": b["decision"], "year": b["year"],
                                                               "rows": 0, "amount": Amount(0), "new": 0,
                                                               "unchanged": 0})
        row["rows"] += 1
        row["amount"] += b["amount"]
        row["new" if b["new"] else "unchanged"] += 1
    rows = [summary[k] for k in sorted(summary)]
    if s.fmt == "json":
        click.echo(as_json({"new": len(booked.new), "unchanged": len(booked.unchanged), "dry_run": dry_run,
                            "vouchers": found.vouchers, "rows": found.rows, "summary": rows,
                            "bookings": bookings}))
        return
    if s.fmt == "csv":
        click.echo(bom(s.dialect) + as_csv([{k: b[k] for k in BOOKING_KEYS} for b in bookings], BOOKING_KEYS,
                                           s.dialect))
        return
    click.echo(render(rows, "table", SUMMARY_COLUMNS, "(no grant cost rows in the file)"))
    verb = "would record" if dry_run else "recorded"
    click.echo(f"{verb} {len(booked.new)} new bookings; {len(booked.unchanged)} already there "
               f"({found.rows} rows in {found.vouchers} vouchers read)"
               + ("; dry run: nothing was recorded" if dry_run else ""))


@sie.command("reconcile", context_settings=CONTEXT)
@_file_options
@pass_session
def sie_reconcile(s: Session, path: str, grant_id: str, region: str, dimension: int, accounts: str,
                  encoding: str) -> None:
    """Compare the books with the ledger, year by year: the file's grant cost rows
    (books), its own #OUB/#PSALDO balances for the object (balances, where present),
    and the ledger's spent for the region (ledger). Exit 0 when every year agrees;
    when any does not, the rows say where and exit 1 follows an error line naming
    the years.

    \b
    Example:
      grants sie reconcile jamtland-2018.se --grant professionsmiljarden --region 23 --dimension 20
    """
    found = _read(s, path, grant_id, region, dimension, accounts, encoding, None, "reading")
    rows = []
    for year in found.years:
        spent = [r["spent"] for r in s.read.balances(grant_id, region, year).rows]
        ledger = spent[0] if spent else Amount(0)
        books = found.books.get(year, Amount(0))
        balances = found.balances.get(year)
        off = [ledger - books] + ([balances - books] if balances is not None else [])
        rows.append({"year": year, "books": books, "balances": balances, "ledger": ledger,
                     "difference": max(off, key=lambda a: abs(a.ore))})
    if s.fmt == "json":
        click.echo(as_json(rows))
    else:
        click.echo((bom(s.dialect) if s.fmt == "csv" else "")
                   + render(rows, s.fmt, RECONCILE_COLUMNS, "(no years in the file)", s.dialect))
    differ = [f"{r['year']} by {r['difference'].pretty()}" for r in rows if r["difference"].ore]
    if differ:
        raise Refused(f"the books and the ledger differ: {', '.join(differ)} (the rows above say where)")
