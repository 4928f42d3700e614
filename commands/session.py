"""The context object every command gets: global options, the ledger opened on first use,
and the read side's questions (``projections.reader``), whose answers it reports.
"""

from __future__ import annotations


import getpass
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import click

from commands.output import Output
from commands.render import render
from ledger.errors import Refused
from commands.options import NOTHING_THEN

if TYPE_CHECKING:  # imported where used: a command that opens no ledger never loads them
    from ledger.application import GrantLedger
    from ledger.stores import Claimed
    from projections.reader import Answer, Reader


@attrs.define
class Session:
    """The context object: global options, and the ledger opened on first use."""

    db: str
    typed_user: str | None  # --user (or GRANTS_USER) as given; None when not given
    fmt: str
    ctx: click.Context
    wide: bool = False  # --wide: tables show every text whole
    _app: GrantLedger | None = None
    empty_then: bool = False  # an as-of answer before the grant's first recording
    recording: bool = False
    _read: Reader | None = None
    output: str | None = None  # the global --output: where a query's answer goes
    dialect: str = "plain"  # the global --csv-dialect
    _sink: Output | None = None
    _claimed: Claimed | None = None  # the ledger checked for a query, its store not opened yet

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
        return (self.typed_user or "").strip() or default_user()

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
            from ledger.application import GrantLedger
            from ledger.persistence import open_claimed
            from ledger.stores import claim_store
            from projections.lookup import LedgerNames

            claimed, self._claimed = self._claimed, None
            if claimed is None:  # else checked already by ``read``, as a query would check it
                claimed = claim_store(self.db, must_exist)
            self._app = open_claimed(GrantLedger, claimed)
            self._app.directory = LedgerNames(self._app, self.db)  # "did you mean" for an unknown name
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
            from projections.persisted import ReadModels

            models = ReadModels(self.db)
            try:
                if models.writable:
                    models.catch_up(self._app)
            finally:
                models.close()
        except Exception:  # noqa: BLE001 (the next query catches up, or says what is wrong)
            pass

    @property
    def read(self) -> Reader:
        """The read side's questions (``projections.reader``), on the ledger opened for reading."""
        if self._read is None:
            from projections.reader import Reader

            self._read = Reader(self._checked(), self.db)
            self.ctx.call_on_close(self._read.close)
        return self._read

    def _checked(self) -> GrantLedger:
        """The ledger for a query, checked now as ``reader`` checks it (a missing SQLite file
        is an error, a file that is no ledger is refused and left as it was), but its store
        opened only when something is asked of it: a question the read models answer, when
        they hold every event, never opens it (nor imports the event library's application)."""
        if self._app is not None:
            return self._app
        from ledger.stores import claim_store

        self._claimed = claim_store(self.db, must_exist=True)
        self.ctx.call_on_close(self._claimed.release)  # let go, unless the ledger was opened (it lets go)
        return _OnFirstUse(lambda: self.reader)  # type: ignore[return-value]

    def answer(self, answer: Answer, grant_id: str) -> Any:
        """An answer's rows, after saying on stderr what a --position or --as-of limit did."""
        for line in answer.notes:
            click.echo(f"note: {line}", err=True)
        if answer.empty_then:
            self.empty_then = True
            click.echo(f"note: nothing of {grant_id} was recorded by then (as of position {answer.position})",
                       err=True)
        return answer.rows

    def out(self, rows: list[dict[str, Any]], columns: list[tuple[str, str]], empty: str,
            sheet: str | None = None) -> None:
        """A query's rows in the chosen format; with xlsx a sheet (named ``sheet``, else
        after the command) of the workbook --output names."""
        if self.fmt == "xlsx":
            self.sink.sheet(sheet or click.get_current_context().info_name or "rows", rows, columns)
            return
        self.echo(render(rows, self.fmt, columns, NOTHING_THEN if self.empty_then else empty, self.wide,
                         self.dialect))

    def echo(self, text: str) -> None:
        """Text of a query's answer: to standard output, or kept for --output."""
        self.sink.echo(text)

    @property
    def sink(self) -> Output:
        if self._sink is None:
            self._sink = Output(self.output, self.fmt, self.dialect)
        return self._sink

    def finish(self) -> None:
        """The command ended well: write the answer kept for --output."""
        self.sink.finish(self.ctx.invoked_subcommand or "the command")

    def last_position(self) -> int | None:
        """The log's last position, on the ledger this command opened (None if it opened none)."""
        return None if self._app is None else self._app.last_position()


class _OnFirstUse:
    """Stands for the object ``make`` returns, made when one of its attributes is first asked for."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._made: Any = None

    def __getattr__(self, name: str) -> Any:  # only for what this object does not have itself
        if self._made is None:
            self._made = self._make()
        return getattr(self._made, name)


pass_session = click.make_pass_decorator(Session)


def default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name on this machine (e.g. a container without one)
        return "unknown"
