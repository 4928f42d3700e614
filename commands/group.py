"""The `grants` group: its global options, and the one place errors become exit codes.

Every error is one ``error:`` line on stderr with cli.md's exit code, never a traceback
(:meth:`GrantsGroup.main`). Command modules register themselves on :data:`cli`; the
group imports a command's module only when that command is asked for (``lazy``, filled
by :mod:`commands.cli`), so ``grants --help`` and each command start without loading the
others (nor the ledger, the event library and the read models when they are not needed).
"""

from __future__ import annotations


import importlib
import sqlite3
import sys
from typing import Any

import click

from commands import params as p
from ledger.errors import LedgerError
from ledger.values import text_fault
from commands.dialects import DIALECTS
from commands.options import CONTEXT
from commands.output import output_fault


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
        # commands not imported yet: name -> ("module:attribute", short help); see commands.cli
        self.lazy: dict[str, tuple[str, str]] = {}

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        p.textual(cmd.params)
        super().add_command(cmd, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        """The command, its module imported on first use (a module's commands register
        themselves on the group as it is imported; the others are added here)."""
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name][0].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if cmd_name not in self.commands:
                self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as e:  # click's "did you mean": from every command, not the imported ones
            if _NO_SUCH_COMMAND is None or not isinstance(e, _NO_SUCH_COMMAND) or not self.lazy:
                raise
            raise _NO_SUCH_COMMAND(e.command_name, possibilities=self.list_commands(ctx), ctx=ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's list of commands with their short help, taken from ``lazy`` for the
        commands it names (none is imported to say what it does; a test keeps the table
        equal to the commands' own help), cut to the width exactly as click cuts it."""
        names = [n for n in self.list_commands(ctx)
                 if n in self.lazy or not (self.commands.get(n) is None or self.commands[n].hidden)]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            command = click.Command(name, help=self.lazy[name][1]) if name in self.lazy else self.commands[name]
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:  # `grants` itself: its options may also follow the command
            args = hoisted(self, args, strict=not ctx.resilient_parsing)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            if _is_session(ctx.obj):
                ctx.obj.finish()
                ctx.obj.recorded()
            return result
        except BaseException as e:
            if not (isinstance(e, (SystemExit, click.exceptions.Exit)) and not _exit_code(e)):
                if _is_session(ctx.obj):
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
            for line in e.details:
                click.echo(f"error: {_one_line(line)}", err=True)
            _fail(str(e), e.exit_code)
        except Exception as e:
            if _is_persistence_error(e):
                from ledger.persistence import is_contention
                if is_contention(e):
                    _fail("another writer kept the store busy; gave up and recorded nothing", 3)
                _fail(f"cannot use the store: {_first_line(e)}", 2)
            if isinstance(e, (sqlite3.Error, OSError)):
                _fail(f"cannot use the store: {_first_line(e)}", 2)
            if not type(e).__module__.startswith("psycopg"):
                raise
            _fail(f"cannot use the store: {_first_line(e)}", 2)  # a server error on a read model
        if isinstance(result, int) and result:
            sys.exit(result)
        sys.exit(0)


_NO_SUCH_COMMAND = getattr(click.exceptions, "NoSuchCommand", None)  # click 8.4 on: it names close commands

GLOBAL_OPTIONS = ("--db", "--user", "--format")  # each takes a value


def hoisted(group: click.Group, args: list[str], strict: bool = True) -> list[str]:
    """``args`` with the global options typed after the command moved before it:
    ``balance G --format csv`` is ``--format csv balance G``. An option the command has
    of its own name stays where it is, a value of another option is never taken for one
    (``--reason --db``), and nothing after ``--`` moves. A global option without its value
    is a usage error (``strict``), or while completing stays where it is."""
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":  # the group's own options
        i += 2 if args[i] in GLOBAL_OPTIONS else 1
    command, start = group, i
    while isinstance(command, click.Group) and i < len(args):  # `list decisions`, `sie import`...
        command = command.get_command(None, args[i])
        i += 1
    if command is None or command is group:
        return args
    takes_value = {name: not (param.is_flag or param.count) for param in command.params
                   if isinstance(param, click.Option) for name in param.opts + param.secondary_opts}
    moved, kept = [], args[start:i]
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            kept += args[i:]
            break
        if name in GLOBAL_OPTIONS and name not in takes_value:
            width = 1 if "=" in arg else 2
            if i + width > len(args) and not strict:  # completing its value: left where it is
                kept += args[i:]
                break
            if i + width > len(args):  # no value: moved, it would take the command's name as its value
                raise click.UsageError(f"option '{name}' needs a value (global options go before or after "
                                       "the command: grants --format json balance GRANT)")
            moved += args[i:i + width]
            i += width
            continue
        width = 2 if takes_value.get(arg) else 1
        kept += args[i:i + width]
        i += width
    return args[:start] + moved + kept


def _is_session(obj: Any) -> bool:
    """Whether ``obj`` is the group's :class:`commands.session.Session` (never imported here:
    were it not imported yet, no command could have made one)."""
    session = sys.modules.get("commands.session")
    return session is not None and isinstance(obj, session.Session)


def _is_persistence_error(e: BaseException) -> bool:
    """Whether ``e`` is the event library's PersistenceError (whose module is loaded if one
    was raised: it is not imported for a command that never opened a store)."""
    persistence = sys.modules.get("eventsourcing.persistence")
    return persistence is not None and isinstance(e, persistence.PersistenceError)


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


@click.group(cls=GrantsGroup, context_settings=CONTEXT)
@click.option("--db", envvar="GRANTS_DB", default="grants.sqlite", show_default=True,
              help="SQLite file path, or postgresql://user@host:port/dbname[?schema=S]. A file or "
                   "schema that is not a grants ledger is refused and left as it was. Env: GRANTS_DB.")
@click.option("--user", envvar="GRANTS_USER", default=None,
              help="Who records; stored on every event (one line of printable text). On PostgreSQL "
                   "the role the server authenticated is stored, with this beside it as a display name "
                   "(anna_rec (Anna Berg)). Env: GRANTS_USER. Default on SQLite: your login name.")
@click.option("--format", "fmt", envvar="GRANTS_FORMAT", default="table", show_default=True,
              type=click.Choice(["table", "json", "csv", "xlsx"]),
              help="How queries print; xlsx writes an Excel workbook to --output (amounts as numbers, "
                   "dates as dates). With json, recording commands print what they recorded as an "
                   "object. Env: GRANTS_FORMAT.")
@click.option("--output", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write a query's answer to FILE (whole, or not at all) instead of standard output; "
                   "required with --format xlsx.")
@click.option("--csv-dialect", "dialect", envvar="GRANTS_CSV_DIALECT", default="plain", show_default=True,
              type=click.Choice(DIALECTS),
              help="CSV written: plain (comma, 2228598.00) or excel-sv (semicolon, 2228598,00, UTF-8 "
                   "with BOM: opens in a Swedish Excel). CSV files read are either, told apart "
                   "alone. Env: GRANTS_CSV_DIALECT.")
@click.option("--wide", is_flag=True, help="Tables show every column and every text whole (else, on a terminal, long text is cut and spare columns are left out to fit).")
@click.version_option(package_name="grants")
@click.pass_context
def cli(ctx: click.Context, db: str, user: str | None, fmt: str, output: str | None, dialect: str,
        wide: bool) -> None:
    """grants: an event-sourced ledger for earmarked state grants to Sweden's regions.

    Every fact is recorded once, as an immutable event; balances, commitments and
    compliance are computed from the events. Global options go before or after the
    command.

    \b
    Start here:
      grants demo                                  # load Professionsmiljarden, show Jämtland 2018
      grants balance professionsmiljarden --region Jämtland --year 2018
      grants --format json compliance professionsmiljarden --year 2018

    Exit codes: 0 done, 1 refused by the ledger, 2 malformed input,
    3 gave up on a concurrent writer, 4 verify found the history altered.
    """
    from commands.session import Session, default_user

    if not (user or "").strip() and "://" not in db:
        fault = text_fault(default_user())
        if fault:  # a login name from the system, checked like a typed one
            raise click.BadParameter(f"your login name {fault}; give --user", param_hint="'--user'")
    fault = output_fault(output, fmt)
    if fault:
        raise click.UsageError(fault)
    ctx.obj = Session(db=db, typed_user=user, fmt=fmt, ctx=ctx, output=output, dialect=dialect,
                      wide=wide)
