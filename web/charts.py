"""Charts drawn on the server as inline SVG: a region's bar of its year's money, and the
multi-year commitment ladder. Every text that goes into the markup is escaped here
(``markupsafe``), so a template may insert the result as it is.

The bars are a picture of figures the page also prints in its tables; each segment has
a ``<title>`` (its name and amount) and each chart an ``aria-label`` saying what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from ledger.values import Amount

# the bar's segments, in order, and their colours (a colour-blind-safe palette)
SEGMENTS = [
    ("spent", "spent", "#1b4f72"),
    ("unspent", "committed, not spent", "#5dade2"),
    ("reserved", "reserved", "#b9770e"),
    ("available", "available", "#a9dfbf"),
    ("shortfall", "shortfall", "#c0392b"),
]
PALETTE = ["#1b4f72", "#b9770e", "#117864", "#884ea0", "#5dade2", "#e59866", "#48c9b0", "#c39bd3",
           "#5d6d7e", "#f4d03f", "#a93226", "#7dcea0"]


def _attrs(**values: Any) -> str:
    return " ".join(f'{k.rstrip("_").replace("_", "-")}="{escape(str(v))}"' for k, v in values.items())


def bar_parts(row: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """(key, label, colour, öre) of a balance row's bar: spent, committed not spent, reserved,
    available (when positive), shortfall; each part at least 0."""
    ore = {
        "spent": row["spent"].ore,
        "unspent": max(row["committed"].ore - row["spent"].ore, 0),
        "reserved": row["reserved"].ore,
        "available": max(row["available"].ore, 0),
        "shortfall": row["shortfall"].ore,
    }
    return [(key, label, colour, max(ore[key], 0)) for key, label, colour in SEGMENTS]


def money_bar(row: dict[str, Any], scale: int, width: int = 180, height: int = 14) -> Markup:
    """One region-year's money as a horizontal stacked bar; ``scale`` (öre) is the full width."""
    parts = bar_parts(row)
    label = (f"{row['region_name']} {row['year']}: allocated {row['allocated'].pretty()}, "
             + ", ".join(f"{text} {Amount(ore).pretty()}" for _, text, _, ore in parts))
    out = [f'<svg {_attrs(width=width, height=height, viewBox=f"0 0 {width} {height}", role="img", aria_label=label)} '
           'class="bar">']
    x = 0.0
    for _, text, colour, ore in parts:
        if not ore or not scale:
            continue
        w = width * ore / scale
        out.append(f'<rect {_attrs(x=f"{x:.2f}", y=0, width=f"{max(w, 0.5):.2f}", height=height, fill=colour)}>'
                   f"<title>{escape(text)}: {escape(Amount(ore).pretty())}</title></rect>")
        x += w
    out.append("</svg>")
    return Markup("".join(out))


def legend(items: Sequence[tuple[str, str]]) -> Markup:
    """A legend: (label, colour) pairs as a list of swatches."""
    cells = "".join(f'<li><span class="swatch" style="background:{escape(colour)}"></span>{escape(label)}</li>'
                    for label, colour in items)
    return Markup(f'<ul class="legend">{cells}</ul>')


def bar_legend() -> Markup:
    return legend([(label, colour) for _, label, colour in SEGMENTS])


def _nice_step(top: int) -> int:
    """A round tick step (öre) giving four to eight ticks up to ``top``."""
    if top <= 0:
        return 100_00
    step = 1
    while top / step > 8:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if top / step <= 8:
                break
    return step


def ladder(years: Sequence[int], stacks: dict[int, list[tuple[str, int, str | None]]],
           allocated: dict[int, int], keys: Sequence[str], current: int | None,
           title: str, width: int = 640, height: int = 300) -> Markup:
    """The multi-year commitment ladder: for each year a column of the amounts decided for it,
    stacked by key (a purpose or a decision: (key, öre, link)), and the year's allocation
    (or frame) as a mark. ``keys`` give the colours in order; ``current`` is outlined."""
    colours = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(keys)}
    left, right, top_pad, bottom = 96, 16, 16, 36
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = max([sum(o for _, o, _ in stacks.get(y, [])) for y in years] + [allocated.get(y, 0) for y in years] + [1])
    step = _nice_step(top)
    top = -(-top // step) * step
    y_of = lambda ore: top_pad + plot_h - plot_h * ore / top  # noqa: E731
    out = [f'<svg {_attrs(width=width, height=height, viewBox=f"0 0 {width} {height}", role="img", aria_label=title)} '
           'class="ladder">', f"<title>{escape(title)}</title>"]
    for tick in range(0, top + 1, step):
        y = y_of(tick)
        out.append(f'<line {_attrs(x1=left, x2=width - right, y1=f"{y:.1f}", y2=f"{y:.1f}", class_="grid")}/>')
        out.append(f'<text {_attrs(x=left - 6, y=f"{y + 4:.1f}", text_anchor="end", class_="tick")}>'
                   f"{escape(Amount(tick).pretty())}</text>")
    slot = plot_w / max(len(years), 1)
    bar_w = min(slot * 0.6, 90)
    for i, year in enumerate(years):
        x = left + slot * i + (slot - bar_w) / 2
        base = 0
        for key, ore, link in stacks.get(year, []):
            if ore <= 0:
                continue
            y1, y0 = y_of(base + ore), y_of(base)
            rect = (f'<rect {_attrs(x=f"{x:.1f}", y=f"{y1:.1f}", width=f"{bar_w:.1f}", height=f"{max(y0 - y1, 0.5):.1f}", fill=colours.get(key, "#999"))}>'
                    f"<title>{year}: {escape(key)} {escape(Amount(ore).pretty())}</title></rect>")
            out.append(f'<a {_attrs(href=link)}>{rect}</a>' if link else rect)
            base += ore
        if year in allocated:
            y = y_of(allocated[year])
            out.append(f'<line {_attrs(x1=f"{x - 6:.1f}", x2=f"{x + bar_w + 6:.1f}", y1=f"{y:.1f}", y2=f"{y:.1f}", class_="allocated")}>'
                       f"<title>{year}: allocated {escape(Amount(allocated[year]).pretty())}</title></line>")
        label_class = "year current" if year == current else "year"
        out.append(f'<text {_attrs(x=f"{x + bar_w / 2:.1f}", y=height - bottom + 18, text_anchor="middle", class_=label_class)}>'
                   f"{year}</text>")
    out.append("</svg>")
    return Markup("".join(out))


def ladder_legend(keys: Sequence[str]) -> Markup:
    return legend([(key, PALETTE[i % len(PALETTE)]) for i, key in enumerate(keys)]
                  + [("allocated (the year's money)", "#000")])
