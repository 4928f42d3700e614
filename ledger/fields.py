"""What each field of a stored event holds: the one table both checks of an event's fields read.

An event class declares its fields' types (``str``, ``int``, ``datetime.date``...); what
a field holds beyond that is said here once, by its name: a ``region`` is a county
code, a ``year`` 1900–2199, ``pots`` a list of (code, whole number) pairs. Each entry
gives two checks of the same thing:

- a cheap type test of a stored event's state, as read from the store (dates already
  dates): :func:`ledger.events.fault` runs it on every stored event read, about a
  million times in a rebuild, so it is a few ``type(v) is`` tests and nothing more;
- the strict form check of the same field in a `grants export` line (JSON: dates as ISO
  strings), which the import's line check (``projections/intake.py``) runs: it returns
  the value or raises :class:`Off` saying what the field must be.

:func:`fields_of` gives an event class's own fields, each with both. A new field type
or list field is added here, in one place, and both checks know it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import attrs

from ledger.errors import Malformed
from ledger.values import FIGURES, MAX_YEAR, MIN_YEAR, Region, parse_code, parse_identifier

# every whole number of an event: |n| below this (15 digits of kronor, in öre), beyond any
# sum of money the ledger holds, and any position
BIG = 10**17


class Off(Exception):
    """A value is not what its field holds; the message says what it should be."""


# --------------------------------------------------------------------------- stored: cheap type tests


def _int(v: Any) -> bool:
    return type(v) is int and -BIG < v < BIG


def _str(v: Any) -> bool:
    return type(v) is str


# --------------------------------------------------------------------------- exported: strict form checks

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def text(value: Any) -> str:
    if type(value) is not str:
        raise Off("must be text")
    bad = _BAD_TEXT.search(value)
    if bad:
        what = "a NUL character" if bad.group() == "\x00" else "a lone surrogate (not Unicode text)"
        raise Off(f"holds {what}")
    return value


def plain(value: Any) -> str:
    """Text on one line: no control characters (a recorder's name, an id)."""
    value = text(value)
    if _CONTROL.search(value):
        raise Off("must be plain text without control characters")
    return value


def whole(value: Any) -> int:
    if type(value) is not int:
        raise Off("must be a whole number")
    if not -BIG < value < BIG:
        raise Off(f"is out of range (at most {len(str(BIG)) - 1} digits)")
    return value


def flag(value: Any) -> bool | None:
    if value is not None and type(value) is not bool:
        raise Off("must be true, false or null")
    return value


def date(value: Any) -> datetime.date:
    if type(value) is not str or not _DATE.fullmatch(value):
        raise Off("must be a date YYYY-MM-DD")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise Off("must be a real date YYYY-MM-DD") from None


def optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def code(value: Any) -> str:
    """A grant id, pot or purpose, as ``parse_code`` takes them (and already trimmed)."""
    try:
        if type(value) is str and parse_code(value) == value:
            return value
    except Malformed:
        pass
    raise Off("must be a code: lower-case letters, digits, '.', '_' or '-'")


_COUNTY_CODES = frozenset(r.code for r in Region.all())


def region(value: Any) -> str:
    if type(value) is not str or value not in _COUNTY_CODES:
        raise Off("must be a county code (01-25)")
    return value


def seal_position(value: Any) -> int:
    value = whole(value)
    if value < 0:
        raise Off("must be a position (0 for an unsealed report)")
    return value


def year(value: Any) -> int:
    if type(value) is not int or not MIN_YEAR <= value <= MAX_YEAR:
        raise Off(f"must be a year {MIN_YEAR}-{MAX_YEAR}")
    return value


def identifier(value: Any) -> str:
    """A decision id or voucher, as ``parse_identifier`` takes them (and already trimmed)."""
    value = plain(value)
    try:
        if parse_identifier(value, "id") == value:
            return value
    except Malformed:
        pass
    raise Off("must be one trimmed, non-empty line of at most 200 characters")


def sealed_figures(value: Any) -> dict:
    """A report's figures: none (an unsealed report), or every balance figure, as a seal states them."""
    if type(value) is not dict:
        raise Off("must be an object")
    if value and list(value) != list(FIGURES):
        raise Off(f"must be empty or hold exactly {', '.join(FIGURES)}")
    return {k: whole(v) for k, v in value.items()}


# --------------------------------------------------------------------------- the table


@attrs.frozen
class Form:
    """What a value holds, both ways: ``test`` of its stored form, ``check`` of its exported form."""

    test: Callable[[Any], bool]
    check: Callable[[Any], Any]


# the forms the list fields' elements take
TEXT = Form(_str, text)
WHOLE = Form(_int, whole)
CODE = Form(_str, code)
REGION = Form(_str, region)
YEAR = Form(_int, year)


def _list_of(check: Callable[[Any], Any]) -> Callable[[Any], list]:
    def checked(value: Any) -> list:
        if type(value) is not list:
            raise Off("must be a list")
        return [check(v) for v in value]
    return checked


def items(each: Form) -> Form:
    """A list of values, each of the form ``each``."""
    test = each.test
    return Form(lambda v: type(v) is list and all(test(c) for c in v), _list_of(each.check))


def pairs(first: Form, second: Form) -> Form:
    """A list of [first, second] pairs."""
    test1, test2, check1, check2 = first.test, second.test, first.check, second.check

    def pair(value: Any) -> list:
        if type(value) is not list or len(value) != 2:
            raise Off("must be a list of pairs")
        return [check1(value[0]), check2(value[1])]
    return Form(lambda v: type(v) is list and all(
        type(p) is list and len(p) == 2 and test1(p[0]) and test2(p[1]) for p in v), _list_of(pair))


@attrs.frozen
class Plain:
    """What a field of a plain declared type holds."""

    type: type  # the type of its value in a stored event's state (a date is a date there)
    nullable: bool  # may be None
    check: Callable[[Any], Any]  # its form in an export line


# The plain fields, by the annotation their event class declares (as written in its source).
TYPES: dict[str, Plain] = {
    "str": Plain(str, False, text),
    "int": Plain(int, False, whole),
    "datetime.date": Plain(datetime.date, False, date),
    "datetime.date | None": Plain(datetime.date, True, optional(date)),
    "bool | None": Plain(bool, True, flag),
}
# What a plain field's name says about its exported form, beyond its declared type: the
# forms the commands accept (commands/params.py), so what is imported can be queried. (A
# stored event's state is tested for its declared type alone, cheaply, as it is read.)
NAMED: dict[str, Callable[[Any], Any]] = {
    "grant_id": code, "pot": code, "purpose": code,
    "region": region,
    "year": year, "first_year": year, "last_year": year,
    "decision_id": identifier, "voucher": identifier,
    "recorded_by": plain,
    "position": seal_position,  # a report's seal: the position its figures are as of
}
# The list and dict fields, by name (their classes say only list or dict): their element shapes.
SHAPED: dict[str, Form] = {
    "schedule": pairs(YEAR, WHOLE),
    "pots": pairs(CODE, WHOLE),
    "shares": pairs(REGION, WHOLE),
    "purposes": pairs(CODE, TEXT),
    "earmarks": pairs(CODE, CODE),
    "covers": items(CODE),
    "report_asks": items(CODE),
    "measures": pairs(CODE, TEXT),  # a report's measures: [purpose, text] pairs
    "figures": Form(lambda v: type(v) is dict and all(_str(k) and _int(x) for k, x in v.items()),
                    sealed_figures),
}


@attrs.frozen
class Field:
    """What one field of an event class holds: a plain field's ``type`` (and whether it is
    ``nullable``), or a list or dict field's ``shape`` test of its stored value; and the
    strict ``check`` of its form in an export line."""

    name: str
    type: type | None
    nullable: bool
    shape: Callable[[Any], bool] | None
    check: Callable[[Any], Any]


def fields_of(cls: type) -> tuple[Field, ...]:
    """An event class's own fields (not the library's: id, version, timestamp, originator_topic),
    in the order it declares them, each as :data:`TYPES`, :data:`NAMED` and :data:`SHAPED` say."""
    found = []
    declared: dict[str, str] = {}
    for klass in reversed(cls.__mro__):  # an aggregate's copy of a base's event declares nothing itself
        if not klass.__module__.startswith("eventsourcing"):
            declared.update(klass.__dict__.get("__annotations__", {}))
    for name, annotation in declared.items():
        if annotation in ("list", "dict"):
            form = SHAPED.get(name)
            if form is None:
                raise TypeError(f"{cls.__qualname__}: add the shape of its {annotation} field {name!r} "
                                "to SHAPED in ledger/fields.py")
            found.append(Field(name, None, False, form.test, form.check))
            continue
        plain_type = TYPES.get(annotation)
        if plain_type is None:
            raise TypeError(f"{cls.__qualname__}: field {name!r} has a type no check knows: {annotation}")
        found.append(Field(name, plain_type.type, plain_type.nullable, None,
                           NAMED.get(name, plain_type.check)))
    return tuple(found)
