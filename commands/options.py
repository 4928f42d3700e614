"""Options and helpers several command families share: GRANT, region-year, --as-of and
--position, the judging day, "recorded"/"unchanged" lines, progress bars.
"""

from __future__ import annotations


import datetime
import sys
from collections.abc import Callable
from typing import Any

import click

from commands import params as p
from commands.render import as_json
from ledger import clock

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
NOTHING_THEN = "(nothing recorded by then)"


def with_grant(f: Callable) -> Callable:
    """The GRANT argument every grant command takes."""
    return click.argument("grant_id", metavar="GRANT", type=p.CodeType("grant id"))(f)


def with_region_year(f: Callable) -> Callable:
    """GRANT, --region and --year: the region-year a command is about."""
    f = click.option("--year", required=True, type=p.YEAR)(f)
    f = click.option("--region", required=True, type=p.REGION)(f)
    return with_grant(f)


def done(recorded: bool, what: str, **details: Any) -> None:
    """Say what a recording command did: a "recorded:" or "unchanged:" line, or with
    --format json one object a script can read: ``{"recorded": true|false, "command":
    "decide", "what": "...", "position": N}`` (N: the log's last position after the
    command), with ``details`` beside."""
    ctx = click.get_current_context(silent=True)
    session = ctx.find_root().obj if ctx else None
    if getattr(session, "fmt", None) == "json":
        command = " ".join(ctx.command_path.split()[1:]) if ctx else ""
        click.echo(as_json({"recorded": recorded, "command": command, "what": what,
                            "position": session.last_position(), **details}))
    elif recorded:
        click.echo(f"recorded: {what}")
    else:
        click.echo(f"unchanged: {what} (already recorded, nothing new)")


def _opt(name: str) -> str:
    return name.strip() if name else ""


def time_options(f: Callable) -> Callable:
    f = click.option("--position", type=p.PositionType(0), default=None,
                     help="Replay only the first N positions of the log, in whole commands: N inside "
                          "one command's write answers as of that command's start (a note on stderr "
                          "says so, and when N is beyond the log).")(f)
    return click.option("--as-of", "as_of", type=p.TIMESTAMP, default=None,
                        help="Replay only what was recorded by then, in whole commands: a date (its end, "
                             "UTC) or an ISO date-time with offset. Before the grant's first recording: "
                             "no rows, '(nothing recorded by then)'.")(f)


def judging_day(judge_on: datetime.date | None, as_of: datetime.datetime | None) -> datetime.date:
    if judge_on:
        return judge_on
    return as_of.date() if as_of else clock.recorded_day(clock.now())  # today, in Sweden


def query_options(f: Callable) -> Callable:
    f = time_options(f)
    f = click.option("--year", type=p.YEAR, default=None, help="Only this year.")(f)
    f = click.option("--region", type=p.REGION, default=None, help="Only this region.")(f)
    return with_grant(f)


def progress(label: str, length: int | None, show_pos: bool = True, steps: int = 1):
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
