"""Where a query's rows go: standard output, or a file named by the global ``--output``
(a text format, or an Excel workbook with ``--format xlsx``), written whole or not at all.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import attrs
import click

from commands.dialects import bom
from commands.workbook import Book, Columns
from ledger.errors import Malformed


def output_fault(path: str | None, fmt: str) -> str | None:
    """Why the global options cannot be used as given (checked before the command runs),
    or None."""
    if fmt == "xlsx" and path is None:
        return "--format xlsx writes a workbook, not text for a terminal: give --output FILE (e.g. balance.xlsx)"
    if path is None:
        return None
    real = os.path.realpath(path)
    folder = os.path.dirname(real)
    if os.path.isdir(real):
        return f"--output {path} is a folder; give a file name"
    if os.path.exists(real) and not os.path.isfile(real):
        if fmt == "xlsx" and _is_terminal(real):
            return f"--output {path} is a terminal; a workbook goes to a file"
        return None if os.access(real, os.W_OK) else f"cannot write {path}: permission denied"
    if not os.path.isdir(folder):
        return f"cannot write {path}: there is no folder {folder}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write {path}: the folder {folder} is not writable"
    return None


def _is_terminal(path: str) -> bool:
    if not stat.S_ISCHR(os.stat(path).st_mode):
        return False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


@attrs.define
class Output:
    """What one command prints as its answer: echoed at once to standard output, or kept
    and written to ``path`` when the command ends well (:meth:`finish`)."""

    path: str | None
    fmt: str
    dialect: str
    _text: list[str] = attrs.field(factory=list)
    book: Book = attrs.field(factory=Book)
    used: bool = False
    written: bool = False

    def echo(self, text: str) -> None:
        """A text answer (table, JSON, CSV: a CSV answer begins with its dialect's byte order mark)."""
        if self.fmt == "csv" and not self.used:
            text = bom(self.dialect) + text
        self.used = True
        if self.path is None:
            click.echo(text)
        else:
            self._text.append(text + "\n")

    def sheet(self, name: str, rows: list[dict[str, Any]], columns: Columns) -> None:
        self.used = True
        self.book.add(name, rows, columns)

    def take(self) -> str | None:
        """The path, for a command that writes it itself (export); nothing is kept for it."""
        self.written = True
        return self.path

    def finish(self, command: str) -> None:
        """Write the answer kept for ``path`` (once); say so when the command printed none."""
        if self.path is None or self.written:
            return
        self.written = True
        if not self.used:
            click.echo(f"note: {command} prints no rows; nothing was written to {self.path}", err=True)
        elif self.fmt == "xlsx":
            write_whole(self.path, self.book.data)
        else:
            write_whole(self.path, "".join(self._text).encode("utf-8"))


@contextmanager
def replacing(path: str, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """A file to write that replaces ``path`` whole when the block ends well: it is written
    beside it (``PATH.<pid>.part``) and renamed over it, so a crash (kill -9, power cut)
    leaves the old file or the whole new one, never a part. A device (a pipe, a terminal)
    is written straight."""
    real = os.path.realpath(path)
    if os.path.exists(real) and not os.path.isfile(real):
        with open(real, mode, **kwargs) as f:
            yield f
        return
    partial = f"{real}.{os.getpid()}.part"
    try:
        with open(partial, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, real)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def write_whole(path: str, data: bytes) -> None:
    """Write ``data`` over ``path`` whole (see :func:`replacing`)."""
    try:
        with replacing(path) as f:
            f.write(data)
    except OSError as e:
        raise Malformed(f"cannot write {path}: {e.strerror or e}") from None
