"""Writing SIE 4 files: for the tests, the benchmark and the docs' Jämtland sample.

``python -m tests.siefiles DIR`` writes docs/examples' sample (jamtland-2018.se, code
page 437 with a #KSUMMA, and jamtland-map.csv); a test keeps the checked-in copies equal
to what this writes.
"""

from __future__ import annotations

import csv
import datetime
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from ledger.sie_lines import checksum
from ledger.values import Amount

D = datetime.date
Objects = tuple[tuple[int, str], ...]


@attrs.frozen
class Line:
    """One row record of a voucher: kind is TRANS, RTRANS or BTRANS."""

    account: str
    objects: Objects
    amount: Amount
    transdat: datetime.date | None = None
    text: str | None = None
    kind: str = "TRANS"


@attrs.frozen
class Ver:
    serie: str
    vernr: str
    date: datetime.date
    text: str
    rows: tuple[Line, ...]


def quote(text: str) -> str:
    """A field as SIE writes it: quoted when it holds a space, a quote or nothing."""
    if text and not any(c in text for c in ' \t"{}'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def objects(pairs: Objects) -> str:
    return "{" + " ".join(f"{d} {quote(o)}" for d, o in pairs) + "}"


def _row(label: str, line: Line) -> str:
    parts = [label, line.account, objects(line.objects), line.amount.plain()]
    if line.transdat is not None or line.text is not None:
        parts.append(line.transdat.strftime("%Y%m%d") if line.transdat else '""')
    if line.text is not None:
        parts.append(quote(line.text))
    return " ".join(parts)


def records(vouchers: Iterable[Ver], *, year: int, dimensions: Sequence[tuple[int, str]] = (),
            accounts: Sequence[tuple[str, str]] = (), psaldo: Sequence[tuple[str, str, Objects, Amount]] = (),
            company: str = "Region") -> list[str]:
    """The record lines of a file (without #KSUMMA): header, chart, balances, vouchers."""
    out = ['#FLAGGA 0', '#PROGRAM "grants tests" 1.0', "#FORMAT PC8", "#GEN 20190115", "#SIETYP 4",
           f"#FNAMN {quote(company)}", f"#RAR 0 {year}0101 {year}1231"]
    out += [f"#DIM {d} {quote(name)}" for d, name in dimensions]
    out += [f"#KONTO {a} {quote(name)}" for a, name in accounts]
    out += [f"#PSALDO 0 {period} {account} {objects(objs)} {amount.plain()}" for period, account, objs, amount in psaldo]
    for v in vouchers:
        out.append(f"#VER {quote(v.serie)} {quote(v.vernr)} {v.date.strftime('%Y%m%d')} {quote(v.text)}")
        out.append("{")
        for line in v.rows:
            out.append("   " + _row("#" + line.kind, line))
            if line.kind == "RTRANS":  # the echo an old reader books instead
                out.append("   " + _row("#TRANS", line))
        out.append("}")
    return out


def sie_bytes(lines: list[str], encoding: str = "cp437", eol: str = "\r\n", ksumma: bool = True) -> bytes:
    """The file's bytes, with an opening #KSUMMA after #FLAGGA and the closing one at the end."""
    if ksumma:
        body = lines[1:]
        lines = [lines[0], "#KSUMMA", *body, f"#KSUMMA {checksum(body)}"]
    return "".join(line + eol for line in lines).encode(encoding)


# --------------------------------------------------------------------------- the Jämtland sample

GRANT_OBJECT = (20, "9902")
DIMENSIONS = [(1, "Kostnadsställe"), (6, "Projekt"), (20, "Statsbidrag")]
ACCOUNTS = [("1930", "Bank"), ("2920", "Upplupna löner"), ("3010", "Statsbidrag, intäkt"),
            ("5460", "Förbrukningsmaterial"), ("6550", "Konsulttjänster"), ("7010", "Lön")]
# (decision, project object, [(month, day, account, amount in kronor, text)])
JAMTLAND = [
    ("JH-PM-03", "PM03", [(3, 31, "7010", 410_000, "Lön apotekare mars"), (6, 30, "7010", 395_500, "Lön juni")]),
    ("JH-PM-06", "PM06", [(4, 30, "6550", 462_500, "Konsult kundtjänst")]),
    ("JH-PM-08", "PM08", [(5, 31, "7010", 180_250, "Lön IT-förstärkning")]),
    ("JH-PM-09", "PM09", [(9, 15, "5460", 18_900, "Kursmaterial kompetenskort")]),
]


def jamtland_vouchers() -> list[Ver]:
    """Jämtland's 2018 vouchers: grant costs on four decisions (each with its bank row),
    a credit, a struck row, an added row with its echo, and a row of another object."""
    out: list[Ver] = []
    n = 100
    for decision, project, costs in JAMTLAND:
        for month, day, account, kronor, text in costs:
            n += 1
            on = D(2018, month, day)
            amount = Amount.kronor(kronor)
            out.append(Ver("A", str(n), on, f"{text} ({decision})", (
                Line(account, ((1, "4110"), GRANT_OBJECT, (6, project)), amount),
                Line("1930", (), -amount),
            )))
    out.append(Ver("A", "201", D(2018, 7, 10), "Kreditfaktura konsult", (
        Line("6550", ((1, "4110"), GRANT_OBJECT, (6, "PM06")), -Amount.kronor(12_500), text="Kredit"),
        Line("1930", (), Amount.kronor(12_500)),
    )))
    out.append(Ver("A", "202", D(2018, 8, 31), "Lön augusti, rättad", (
        Line("7010", ((1, "4110"), GRANT_OBJECT, (6, "PM08")), Amount.kronor(90_000), kind="BTRANS"),
        Line("7010", ((1, "4110"), GRANT_OBJECT, (6, "PM08")), Amount.kronor(85_000), kind="RTRANS"),
        Line("1930", (), -Amount.kronor(85_000)),
    )))
    out.append(Ver("B", "17", D(2018, 8, 31), "Övrig verksamhet", (
        Line("7010", ((1, "4120"),), Amount.kronor(300_000)),
        Line("1930", (), -Amount.kronor(300_000)),
    )))
    out.append(Ver("C", "3", D(2018, 2, 15), "Statsbidrag Professionsmiljarden", (
        Line("1930", (), Amount.kronor(8_357_305)),
        Line("3010", (GRANT_OBJECT,), -Amount.kronor(8_357_305)),
    )))
    return out


def period_balances(vouchers: Iterable[Ver], obj: tuple[int, str], low: int = 4000, high: int = 7999
                    ) -> list[tuple[str, str, Objects, Amount]]:
    """#PSALDO lines for an object: each period's movement per cost account, from the vouchers."""
    sums: dict[tuple[str, str], int] = {}
    for v in vouchers:
        for line in v.rows:
            if line.kind != "BTRANS" and obj in line.objects and low <= int(line.account) <= high:
                key = ((line.transdat or v.date).strftime("%Y%m"), line.account)
                sums[key] = sums.get(key, 0) + line.amount.ore
    return [(p, a, (obj,), Amount(ore)) for (p, a), ore in sorted(sums.items())]


def jamtland_sample(folder: Path) -> None:
    """Write jamtland-2018.se and jamtland-map.csv into ``folder``."""
    vouchers = jamtland_vouchers()
    lines = records(vouchers, year=2018, dimensions=DIMENSIONS, accounts=ACCOUNTS,
                    psaldo=period_balances(vouchers, GRANT_OBJECT), company="Region Jämtland Härjedalen")
    (folder / "jamtland-2018.se").write_bytes(sie_bytes(lines))
    with open(folder / "jamtland-map.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["dimension", "object", "decision"])
        for decision, project, _ in JAMTLAND:
            writer.writerow([6, project, decision])


if __name__ == "__main__":
    jamtland_sample(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/examples"))
