"""The ledger's errors. Each carries a one-line message with the figures.

The CLI maps them to exit codes in one place (``commands.group``):
``Refused`` and its kinds -> 1, ``Malformed`` -> 2, ``Conflict`` -> 3, ``Corrupt`` -> 4.
"""

from __future__ import annotations

from collections.abc import Iterable


class LedgerError(Exception):
    """Base class of every error the ledger reports to its user.

    ``details`` are more lines, one per item the error is about (each offending row of a
    file), shown before the message's own line.
    """

    exit_code = 1

    def __init__(self, message: str = "", details: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


class Refused(LedgerError):
    """The command is well-formed but the ledger's state forbids it."""


class NotFound(Refused):
    """An unknown grant, decision, voucher, agreement or pot."""


class Duplicate(Refused):
    """An id that is already used for something with other content."""


class Unauthorised(Refused):
    """The decider is not authorised for the region on that date."""


class Closed(Refused):
    """The region's year is closed."""


class Shortfall(Refused):
    """The region's year has a shortfall outstanding."""


class Insufficient(Refused):
    """Would take a balance below zero."""


class Malformed(LedgerError, ValueError):
    """Input that cannot be understood: an amount, a date, a region, a file."""

    exit_code = 2


class Corrupt(LedgerError):
    """A stored event cannot be read back: the stored history was altered."""

    exit_code = 4


class Conflict(LedgerError):
    """A concurrent writer kept changing the same data; nothing was recorded."""

    exit_code = 3


def did_you_mean(word: str, known: Iterable[str], n: int = 3) -> str:
    """The closest of the ``known`` names to a mistyped ``word`` (case aside), as a clause for
    an error message: "did you mean 'JH-PM-01'?", "did you mean 'a' or 'b'?"; "" when none is close."""
    names = {name.casefold(): name for name in known if name != word}
    same = names.get(word.casefold())  # the same name but for case: that one
    import difflib  # here: only a name not found needs it (and it is slow to import)

    close = [same] if same else [names[c] for c in difflib.get_close_matches(word.casefold(), list(names), n=n,
                                                                            cutoff=0.6)]
    if not close:
        return ""
    quoted = [repr(c) for c in close]
    return "did you mean " + (quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]) + "?"


def unknown_grant_message(grant_id: str, guess: str = "") -> str:
    """What an unknown grant id is told: the closest known ids, and how to define one."""
    return f"unknown grant {grant_id!r} ({guess + ' ' if guess else ''}define it with 'grants grant define')"
