"""The context object every command gets: global options, the ledger opened on first use,
the read models, and how queries answer for "now" and "as of".
"""

from __future__ import annotations


import datetime
import getpass
import os
from collections.abc import Callable
from typing import Any

import attrs
import click

from commands.render import render
from ledger.application import GrantLedger, open_ledger
from ledger.errors import Refused
from projections.audit import upto
from projections.bounds import Cut
from projections.fold import LedgerView, entries_of, fold
from projections.persisted import ReadModels
from commands.options import NOTHING_THEN, unknown_grant


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


def default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name on this machine (e.g. a container without one)
        return "unknown"
