"""Moving a ledger: export every event as JSON Lines, import such a file into an empty ledger.
"""

from __future__ import annotations


import os
from collections.abc import Iterable, Iterator

import click

from ledger.errors import Malformed
from ledger.library import new_sqlite_ledger
from projections.fold import Entry, entries_of
from projections.intake import import_history, lines_of
from projections.history import export_lines
from commands.group import cli
from commands.options import CONTEXT
from commands.session import Session, pass_session
from commands.options import progress
from commands.output import replacing


@cli.command(context_settings=CONTEXT)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output (whole, or not at all).")
@pass_session
def export(s: Session, output: str | None) -> None:
    """Write every event, in recording order, as JSON Lines (one event a line, with
    its position, recorded time, recorder, type and data).

    With --output (or the global --output), the file appears (or replaces the one
    there) only once it is complete: an export that is interrupted leaves no partial
    file behind at that path. Then it says what it wrote ("exported 75 events
    (positions 1-75) to ledger.jsonl"); to standard output, it says so on stderr.

    \b
    Example:
      grants export --output ledger.jsonl
    """
    output = output or s.sink.take()  # the global --output names the file as well
    seen = _Seen()
    lines = export_lines(seen.count(entries_of(s.reader)))
    if output is None:
        for line in lines:
            click.echo(line)
    else:
        try:
            _write_whole(output, lines)
        except OSError as e:
            raise Malformed(f"cannot write {output}: {e.strerror}") from None
    where = "standard output" if output is None else output
    click.echo(f"exported {seen.events} events{seen.positions} to {where}", err=output is None)


class _Seen:
    """How many entries passed, and the positions of the first and the last."""

    def __init__(self) -> None:
        self.events, self.first, self.last = 0, 0, 0

    def count(self, entries: Iterable[Entry]) -> Iterator[Entry]:
        for entry in entries:
            self.events += 1
            self.first = self.first or entry.position
            self.last = entry.position
            yield entry

    @property
    def positions(self) -> str:
        return f" (positions {self.first}-{self.last})" if self.events else ""


def _write_whole(path: str, lines: Iterable[str]) -> None:
    """Write lines to a file beside ``path``, then rename it over ``path``: a crash
    (kill -9, power cut) leaves the old file or the whole new one, never a part."""
    with replacing(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


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
        with f, progress("importing", size, show_pos=False, steps=max(1, size // 1000)) as bar:
            if "://" not in s.db and not os.path.exists(s.db):
                with new_sqlite_ledger(s.db) as app:  # no file is left behind if it is refused
                    checker = import_history(app, lines_of(f), s.db, progress=bar.update)
            else:
                checker = import_history(s.app, lines_of(f), s.db, progress=bar.update,
                                         file_sha256=sha256.hexdigest())
    except Malformed as e:
        raise Malformed(f"{path}: {e}") from None
    click.echo(f"imported {checker.digest.count} events from {path}; digest {checker.digest.value}")
