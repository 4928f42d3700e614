"""Value objects: exact SEK amounts, the 21 regions, years, purposes.

All are frozen attrs classes, validated on construction, with a ``parse`` for
user input that raises :class:`ledger.errors.Malformed` with a one-line reason.
"""

from __future__ import annotations

import datetime
import re
import unicodedata

import attrs

from ledger.errors import Malformed

# --------------------------------------------------------------------------- Amount

_AMOUNT_RE = re.compile(
    r"""^\s*
    (?P<sign>-)?
    (?P<int>[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]+)   # 8357305 or 8 357 305
    (?:[.,](?P<frac>[0-9]{1,2}))?                           # .50 or ,5
    (?:\s*(?:kr|sek|kronor)\.?)?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)


def _group(n: int) -> str:
    """Digits of ``n`` in groups of three separated by spaces: 2228598 -> '2 228 598'."""
    return f"{n:,}".replace(",", " ")


def pretty_ore(ore: int) -> str:
    """``Amount(ore).pretty()`` without making the Amount (history formats millions of them)."""
    sign = "-" if ore < 0 else ""
    whole, rest = divmod(abs(ore), 100)
    text = _group(whole)
    return f"{sign}{text},{rest:02d}" if rest else f"{sign}{text}"


@attrs.frozen(order=True)
class Amount:
    """An exact amount of Swedish kronor, held as a whole number of öre."""

    ore: int = attrs.field(validator=attrs.validators.instance_of(int))

    @ore.validator
    def _not_bool(self, attribute: attrs.Attribute, value: int) -> None:
        if isinstance(value, bool):
            raise TypeError("Amount takes a whole number of öre, not a bool")

    @classmethod
    def kronor(cls, kr: int) -> Amount:
        """An amount of whole kronor."""
        return cls(kr * 100)

    @classmethod
    def parse(cls, text: str) -> Amount:
        """Parse ``8357305``, ``8 357 305``, ``8357305.50``, ``8 357 305,50`` or ``8357305 kr``.

        Negative amounts parse (``-120``), so callers decide whether they accept them.
        More than two decimals, exponents, NaN, infinities and non-numbers are refused.
        """
        if not isinstance(text, str):
            raise Malformed(f"amount {text!r} is not text")
        m = _AMOUNT_RE.match(text)
        if not m:
            raise Malformed(
                f"amount {text.strip()!r} is not an amount in SEK "
                "(e.g. 8357305, 8 357 305, 8357305.50, 8 357 305,50, 8357305 kr; "
                "at most two decimals)"
            )
        digits = re.sub(r"[^0-9]", "", m["int"])
        if len(digits) > 15:
            raise Malformed(f"amount {text.strip()[:24]!r}… is too large (at most 15 digits of kronor)")
        whole = int(digits)
        frac = int((m["frac"] or "0").ljust(2, "0"))
        ore = whole * 100 + frac
        return cls(-ore if m["sign"] else ore)

    def __add__(self, other: Amount) -> Amount:
        return amount_of(self.ore + other.ore)

    def __sub__(self, other: Amount) -> Amount:
        return amount_of(self.ore - other.ore)

    def __neg__(self) -> Amount:
        return amount_of(-self.ore)

    def __bool__(self) -> bool:
        return self.ore != 0

    @property
    def is_negative(self) -> bool:
        return self.ore < 0

    def plain(self) -> str:
        """Machine form with exactly two decimals: ``2228598.00``."""
        sign = "-" if self.ore < 0 else ""
        whole, ore = divmod(abs(self.ore), 100)
        return f"{sign}{whole}.{ore:02d}"

    def pretty(self) -> str:
        """Human form, grouped: ``2 228 598`` (whole kronor) or ``2 228 598,50``."""
        return pretty_ore(self.ore)

    def __str__(self) -> str:
        """The human form on every line a person reads (tables, messages, findings): grouped,
        decimal comma, öre only where there are any: ``2 228 598``, ``-0,01``."""
        return self.pretty()


ZERO = Amount(0)
_new_amount = object.__new__
_set_ore = object.__setattr__


def amount_of(ore: int) -> Amount:
    """``Amount(ore)`` for a figure the ledger computed or keeps (arithmetic on amounts, an
    aggregate's sums), made without the validators' calls (a rebuild makes some ten amounts
    an event): anything but an ``int`` (a bool included) goes through ``Amount`` itself, and
    is refused there."""
    if type(ore) is not int:
        return Amount(ore)
    made = _new_amount(Amount)
    _set_ore(made, "ore", ore)
    return made


def plural(n: int, word: str, words: str | None = None) -> str:
    """ "1 pot", "2 pots" ("1 field", "3 fields"; an irregular plural as ``words``)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def total(amounts) -> Amount:
    """The sum of an iterable of amounts (ZERO when empty)."""
    return amount_of(sum(a.ore for a in amounts))


# The balance figures of domain.md's balance rules, in the order the read side shows them
# and a filed report's seal states them.
FIGURES = ("allocated", "requisitioned", "committed", "reserved", "spent", "available", "shortfall")


# --------------------------------------------------------------------------- Region


def _fold(text: str) -> str:
    """Case- and diacritic-insensitive key: 'Jämtland Härjedalen' -> 'jamtland harjedalen'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = re.sub(r"[^0-9a-z]+", " ", stripped.casefold()).split()
    return " ".join(w for w in words if w not in _NOISE)


_NOISE = {"region", "regionen", "landstinget", "landsting", "lans", "lan", "i", "county"}

# County code -> (name, official region name, extra aliases)
_COUNTIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "01": ("Stockholm", "Region Stockholm", ("Stockholms läns landsting", "SLL")),
    "03": ("Uppsala", "Region Uppsala", ()),
    "04": ("Södermanland", "Region Sörmland", ("Sörmland",)),
    "05": ("Östergötland", "Region Östergötland", ()),
    "06": ("Jönköping", "Region Jönköpings län", ()),
    "07": ("Kronoberg", "Region Kronoberg", ()),
    "08": ("Kalmar", "Region Kalmar län", ()),
    "09": ("Gotland", "Region Gotland", ()),
    "10": ("Blekinge", "Region Blekinge", ()),
    "12": ("Skåne", "Region Skåne", ()),
    "13": ("Halland", "Region Halland", ()),
    "14": ("Västra Götaland", "Västra Götalandsregionen", ("VGR",)),
    "17": ("Värmland", "Region Värmland", ()),
    "18": ("Örebro", "Region Örebro län", ()),
    "19": ("Västmanland", "Region Västmanland", ()),
    "20": ("Dalarna", "Region Dalarna", ()),
    "21": ("Gävleborg", "Region Gävleborg", ()),
    "22": ("Västernorrland", "Region Västernorrland", ()),
    "23": ("Jämtland", "Region Jämtland Härjedalen", ("Jämtland Härjedalen",)),
    "24": ("Västerbotten", "Region Västerbotten", ()),
    "25": ("Norrbotten", "Region Norrbotten", ()),
}

_REGION_KEYS: dict[str, str] = {}
for _code, (_name, _official, _aliases) in _COUNTIES.items():
    for _alias in (_name, _official, *_aliases):
        _REGION_KEYS[_fold(_alias)] = _code


@attrs.frozen(order=True)
class Region:
    """One of Sweden's 21 regions, identified by its two-digit county code (länskod)."""

    code: str = attrs.field()

    @code.validator
    def _known(self, attribute: attrs.Attribute, value: str) -> None:
        if value not in _COUNTIES:
            raise Malformed(f"unknown county code {value!r}")

    @property
    def name(self) -> str:
        return _COUNTIES[self.code][0]

    @classmethod
    def all(cls) -> list[Region]:
        return [cls(code) for code in _COUNTIES]

    @classmethod
    def parse(cls, text: str) -> Region:
        """A county code (``23``, ``1`` = ``01``) or a name, case- and diacritic-insensitive."""
        raw = str(text).strip()
        if raw.isdigit():
            code = raw.zfill(2)
            if code in _COUNTIES:
                return cls(code)
            raise Malformed(f"unknown region {raw!r}: no county has code {code}")
        key = _fold(raw)
        for candidate in (key, key[:-1] if key.endswith("s") else None):
            if candidate and candidate in _REGION_KEYS:
                return cls(_REGION_KEYS[candidate])
        import difflib  # here: only a region not found needs it (and it is slow to import)

        close = difflib.get_close_matches(key, list(_REGION_KEYS), n=6, cutoff=0.75)
        names = list(dict.fromkeys(_COUNTIES[_REGION_KEYS[k]][0] for k in close))[:3]
        if names:
            quoted = [repr(n) for n in names]
            guess = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
            raise Malformed(f"unknown region {raw!r}: did you mean {guess}? (or give a county code 01-25)")
        raise Malformed(
            f"unknown region {raw!r}: give a county code (01-25) or a name such as 'Jämtland'"
        )

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


# --------------------------------------------------------------------------- Year, Purpose, dates

MIN_YEAR, MAX_YEAR = 1900, 2199


def parse_year(text: str | int) -> int:
    """A four-digit calendar year, in ASCII digits (``٢٠١٨`` or ``２０１８`` is refused:
    Python's ``int`` would read them, a controller's spreadsheet would not)."""
    if isinstance(text, int) and not isinstance(text, bool):
        year = text
    else:
        raw = str(text).strip()
        if not re.fullmatch(r"[0-9]{4}", raw):
            raise Malformed(f"year {text!r} is not a year in digits 0-9 (e.g. 2018)")
        year = int(raw)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Malformed(f"year {year} is out of range ({MIN_YEAR}-{MAX_YEAR})")
    return year


def parse_year_range(text: str) -> tuple[int, int]:
    """``2016-2018`` -> (2016, 2018); a single year ``2016`` -> (2016, 2016)."""
    parts = str(text).strip().split("-")
    if len(parts) == 1:
        year = parse_year(parts[0])
        return year, year
    if len(parts) != 2:
        raise Malformed(f"years {text!r} are not FIRST-LAST (e.g. 2016-2018)")
    first, last = parse_year(parts[0]), parse_year(parts[1])
    if last < first:
        raise Malformed(f"years {text!r}: the last year comes before the first")
    return first, last


def parse_date(text: str) -> datetime.date:
    """An ISO date ``YYYY-MM-DD``, in ASCII digits."""
    raw = str(text).strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        raise Malformed(f"date {raw!r} is not YYYY-MM-DD in digits 0-9")
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError as e:
        raise Malformed(f"date {raw!r} is not a real date ({e})") from None


_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def parse_code(text: str, what: str = "code") -> str:
    """An identifier such as a grant id, purpose or pot: lower-case letters, digits, . _ -."""
    raw = str(text).strip()
    if not _CODE_RE.fullmatch(raw):
        raise Malformed(
            f"{what} {raw!r} must be lower-case letters, digits, '.', '_' or '-' "
            "(e.g. professionsmiljarden)"
        )
    return raw


@attrs.frozen
class Purpose:
    """A purpose money may be used for: a short code and its description."""

    code: str = attrs.field(converter=lambda c: parse_code(c, "purpose"))
    text: str = attrs.field(validator=attrs.validators.instance_of(str))

    @classmethod
    def parse(cls, spec: str) -> Purpose:
        """``CODE=TEXT``."""
        code, sep, text = str(spec).partition("=")
        if not sep or not text.strip():
            raise Malformed(f"purpose {spec!r} is not CODE=TEXT")
        return cls(code.strip(), text.strip())


def parse_identifier(text: str, what: str) -> str:
    """A free-form id (decision id, voucher, reference): non-empty, one line, trimmed."""
    raw = check_text(str(text), what).strip()
    if not raw or len(raw) > 200:
        raise Malformed(f"{what} {text!r} must be one non-empty line of at most 200 characters")
    return raw


# --------------------------------------------------------------------------- free text

# Format characters that are allowed: the zero-width joiner and non-joiner, which some
# scripts and emoji need. Every other format character (bidirectional overrides and
# isolates, zero-width spaces, the byte order mark, ...) can make text display as
# something else than it is, so it is refused like a control character.
_ALLOWED_FORMAT = {"\u200c", "\u200d"}
_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def text_fault(text: str) -> str | None:
    """Why ``text`` is not one line of printable text, or None when it is.

    Refused: control characters (C0 including tab, newline and NUL; DEL; C1), lone
    surrogates (bytes that were not UTF-8), line and paragraph separators, private-use
    and unassigned code points, and invisible formatting characters other than the
    zero-width (non-)joiner. Spaces of every kind are text.
    """
    for i, c in enumerate(text):
        if c.isprintable() or c in _ALLOWED_FORMAT:
            continue
        kind = _REFUSED_CATEGORIES.get(unicodedata.category(c))
        if kind is None:
            continue  # a space such as U+00A0 or U+3000: not printable to Python, but text
        if 0xDC80 <= ord(c) <= 0xDCFF:  # how Python holds a byte of argv that is not UTF-8
            return f"holds a byte that is not UTF-8 (0x{ord(c) - 0xDC00:02X}) at character {i + 1}"
        return f"holds {kind} (U+{ord(c):04X}) at character {i + 1}"
    return None


def check_text(text: str, what: str) -> str:
    """``text`` unchanged if it is one line of printable text, else Malformed naming ``what``."""
    if not isinstance(text, str):
        raise Malformed(f"{what} is not text")
    fault = text_fault(text)
    if fault:
        raise Malformed(f"{what} {fault}; give one line of printable UTF-8 text")
    return text
