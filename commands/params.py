"""click parameter types for the ledger's values: bad input is a usage error (exit 2).

Every value typed on the command line or taken from the environment is first checked
to be one line of printable UTF-8 text (:func:`ledger.values.text_fault`): the ledger's
own types do it in :class:`_LedgerType`, and :func:`textual` gives every plain string
and path parameter of a command the checking types :data:`TEXT` and :class:`TextPath`.
"""

from __future__ import annotations

import datetime
from typing import Any

import click

from ledger.errors import Malformed
from ledger.values import (
    Amount,
    Purpose,
    Region,
    parse_code,
    parse_date,
    parse_identifier,
    parse_year,
    parse_year_range,
    text_fault,
)


def _text_fault(value: str) -> str | None:
    fault = text_fault(value)
    return f"the text {fault}; give one line of printable UTF-8 text" if fault else None


class _LedgerType(click.ParamType):
    """Wraps a ledger parser; its Malformed message becomes click's 'Invalid value'."""

    parse: Any  # each subclass defines parse(value) -> the value

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        fault = _text_fault(value)
        if fault:
            self.fail(fault, param, ctx)
        try:
            return self.parse(value)
        except Malformed as e:
            self.fail(str(e), param, ctx)


class AmountType(_LedgerType):
    name = "amount"

    def parse(self, value: str) -> Amount:
        amount = Amount.parse(value)
        if amount.is_negative:
            raise Malformed(f"amount {value!r} is negative; give a positive amount")
        return amount


class RegionType(_LedgerType):
    name = "region"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        from commands.complete import region_names

        return region_names(incomplete)

    def parse(self, value: str) -> str:
        return Region.parse(value).code


class DateType(_LedgerType):
    name = "date"

    def parse(self, value: str) -> datetime.date:
        return parse_date(value)


class TimestampType(_LedgerType):
    """A date (the end of that day, UTC) or an ISO 8601 date-time with an offset."""

    name = "timestamp"

    def parse(self, value: str) -> datetime.datetime:
        raw = value.strip()
        if not raw.isascii():
            raise Malformed(f"timestamp {raw!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time "
                            "in digits 0-9")
        if len(raw) == 10:
            day = parse_date(raw)
            return datetime.datetime.combine(day, datetime.time.max, tzinfo=datetime.timezone.utc)
        try:
            moment = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise Malformed(
                f"timestamp {raw!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time with "
                "offset (e.g. 2019-02-15T12:00:00+01:00)") from None
        if moment.tzinfo is None:
            raise Malformed(f"timestamp {raw!r} needs an offset (e.g. +01:00 or Z)")
        return moment


class YearType(_LedgerType):
    name = "year"

    def parse(self, value: str) -> int:
        return parse_year(value)


class PositionType(_LedgerType):
    """A position in the log: a whole number in digits 0-9 (click's own int type would
    read ``١٢`` or ``１２`` as 12)."""

    name = "integer"

    def __init__(self, minimum: int = 0, maximum: int = 2**62) -> None:
        self.minimum, self.maximum = minimum, maximum

    def parse(self, value: str) -> int:
        raw = value.strip()
        if not (raw.isascii() and raw.isdigit()):
            raise Malformed(f"position {raw!r} is not a whole number in digits 0-9")
        number = int(raw)
        if not self.minimum <= number <= self.maximum:
            raise Malformed(f"position {number} is not in the range {self.minimum}-{self.maximum}")
        return number


class YearRangeType(_LedgerType):
    name = "first-last"

    def parse(self, value: str) -> tuple[int, int]:
        return parse_year_range(value)


class CodeType(_LedgerType):
    name = "code"

    def __init__(self, what: str = "code") -> None:
        self.what = what

    def parse(self, value: str) -> str:
        return parse_code(value, self.what)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        return _complete_names(ctx, self.what, incomplete)


class IdType(_LedgerType):
    name = "id"

    def __init__(self, what: str = "id") -> None:
        self.what = what

    def parse(self, value: str) -> str:
        return parse_identifier(value, self.what)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        return _complete_names(ctx, self.what, incomplete)


# what each kind of typed id completes to from the ledger (commands.complete)
COMPLETES = {"grant id": "grant", "decision id": "decision", "purpose": "purpose"}


def _complete_names(ctx: click.Context, what: str, incomplete: str) -> list:
    if what not in COMPLETES:
        return []
    from commands.complete import ledger_names

    return ledger_names(ctx, COMPLETES[what], incomplete)


class PurposeType(_LedgerType):
    name = "code=text"

    def parse(self, value: str) -> Purpose:
        return Purpose.parse(value)


class YearAmountType(_LedgerType):
    """``YEAR=AMOUNT``, as in ``--amount 2018=2 500 000``."""

    name = "year=amount"

    def parse(self, value: str) -> tuple[int, Amount]:
        year, sep, amount = value.partition("=")
        if not sep:
            raise Malformed(f"{value!r} is not YEAR=AMOUNT (e.g. 2018=2500000)")
        return parse_year(year), AmountType().parse(amount)


class PotAmountType(_LedgerType):
    """``NAME=AMOUNT``, as in ``--pot stimulus=651000000``."""

    name = "pot=amount"

    def parse(self, value: str) -> tuple[str, Amount]:
        pot, sep, amount = value.partition("=")
        if not sep:
            raise Malformed(f"{value!r} is not NAME=AMOUNT (e.g. stimulus=651000000)")
        return parse_code(pot, "pot"), AmountType().parse(amount)


class PairType(_LedgerType):
    """``A=B`` of two codes, as in ``--earmark POT=PURPOSE``."""

    name = "pot=purpose"

    def parse(self, value: str) -> tuple[str, str]:
        left, sep, right = value.partition("=")
        if not sep:
            raise Malformed(f"{value!r} is not POT=PURPOSE")
        return parse_code(left, "pot"), parse_code(right, "purpose")


class MeasuresType(_LedgerType):
    """``PURPOSE=TEXT``, as in ``--measures it-admin="New scheduling system"`` (an empty text: not stated)."""

    name = "purpose=text"

    def parse(self, value: str) -> tuple[str, str]:
        purpose, sep, text = value.partition("=")
        if not sep:
            raise Malformed(f"{value!r} is not PURPOSE=TEXT (e.g. it-admin=\"New scheduling system\")")
        return parse_code(purpose, "purpose"), text.strip()


class TextType(click.ParamType):
    """Free text (a name, a reason, a reference): one line of printable UTF-8 text."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            fault = _text_fault(value)
            if fault:
                self.fail(fault, param, ctx)
        return value


class TextPath(click.Path):
    """A file path that is also one line of printable UTF-8 text (it appears in messages)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            fault = _text_fault(value)
            if fault:
                self.fail(fault.replace("the text", "the path", 1), param, ctx)
        return super().convert(value, param, ctx)


def textual(params: list[click.Parameter]) -> None:
    """Give each plain string or path parameter the type that checks its text.

    Called for every command as it joins the group (see ``commands.cli.GrantsGroup``),
    so no option can take a control character or undecodable bytes by being forgotten.
    """
    for param in params:
        if isinstance(param.type, click.types.StringParamType):
            param.type = TEXT
        elif isinstance(param.type, click.Path) and not isinstance(param.type, TextPath):
            checking = TextPath.__new__(TextPath)
            checking.__dict__.update(param.type.__dict__)  # the same settings, checked text
            param.type = checking


TEXT = TextType()
class SignedAmountType(_LedgerType):
    name = "amount"

    def parse(self, value: str) -> Amount:
        return Amount.parse(value)


AMOUNT = AmountType()
SIGNED_AMOUNT = SignedAmountType()  # a booking's: a negative one is a credit
REGION = RegionType()
DATE = DateType()
TIMESTAMP = TimestampType()
YEAR = YearType()
YEARS = YearRangeType()
YEAR_AMOUNT = YearAmountType()
POT_AMOUNT = PotAmountType()
EARMARK = PairType()
PURPOSE = PurposeType()
MEASURES = MeasuresType()


def schedule_of(pairs: tuple[tuple[int, Amount], ...]) -> dict[int, Amount]:
    """Repeated ``--amount YEAR=AMOUNT`` as a schedule; a year given twice is an error."""
    schedule: dict[int, Amount] = {}
    for year, amount in pairs:
        if year in schedule:
            raise click.BadParameter(f"year {year} is given twice", param_hint="'--amount'")
        schedule[year] = amount
    return schedule
