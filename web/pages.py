"""What each page of the web view shows, asked of the :class:`projections.reader.Reader` the
command line uses: each function takes the Reader and the request and gives a template
and its context, or (with ``?csv=PART``) the CSV of one of the page's tables, made by
the command line's own CSV writer (``commands.render``), so a download equals the
matching ``grants --format csv`` command's output.

Parameters are parsed by the command line's own parsers (``commands.params``): a date,
a moment, a position or a region means here what it means there.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from typing import Any

import attrs

from starlette.requests import Request
from starlette.responses import Response

from commands import params as p
from commands.options import judging_day
from commands.workbook import Book
from commands.render import (AUDIT_EVENT_COLUMNS, BALANCE_COLUMNS, COMMITMENT_COLUMNS, COMPLIANCE_COLUMNS,
                             HISTORY_COLUMNS, RECLAIM_COLUMNS, YEAR_END_COLUMNS, as_csv, render)
from ledger import clock
from ledger.errors import Malformed, NotFound
from ledger.values import Amount, Region
from projections.reader import Reader, unknown_grant
from web import charts, links

EVENTS_SHOWN = 2000  # an audit page lists this many events; its CSV has them all
# the region-year's own events, listed on its page (its money and its report)
YEAR_EVENTS = {"allocated", "planning-frame-set", "requisitioned", "reserved", "repaid", "paid", "reclaimed",
               "reclaim-rate-set", "reclaim-repaid", "reclaim-waived", "report-filed", "year-closed",
               "year-reopened"}
SCHEDULE_COLUMNS = [("year", "year"), ("amount", "amount"), ("spent", "spent"), ("remaining", "remaining"),
                    ("status", "status")]


# ------------------------------------------------------------------ parameters


def refresh_of(request: Request) -> int | None:
    """``?refresh=N``: the page reloads itself every N seconds (5 to 86 400), for a screen
    that should follow what others record."""
    raw = request.query_params.get("refresh")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or not 5 <= int(raw) <= 86_400:
        raise Malformed(f"refresh {raw!r} is not a number of seconds from 5 to 86400")
    return int(raw)


def _param(request: Request, name: str, kind: Any) -> Any:
    raw = request.query_params.get(name, "").strip()
    return kind.parse(raw) if raw else None


def _day(request: Request) -> datetime.date:
    """``?on=DATE``: the day compliance is judged on (default today, in Sweden)."""
    return _param(request, "on", p.DATE) or clock.recorded_day(clock.now())


def _region(code: str) -> str:
    try:
        return p.REGION.parse(code)
    except Malformed as e:
        raise NotFound(str(e)) from None


def the_grant(reader: Reader, grant_id: str, year: int | None = None) -> dict[str, Any]:
    """The grant's row (id, name, years); NotFound for an unknown grant or a year it does not have."""
    found = next((g for g in reader.grant_names().rows if g["grant"] == grant_id), None)
    if found is None:
        raise unknown_grant(grant_id)
    if year is not None and not found["first_year"] <= year <= found["last_year"]:
        raise NotFound(f"grant {grant_id} has no year {year} (its years are {found['first_year']}-"
                       f"{found['last_year']})")
    return {**found, "years": list(range(found["first_year"], found["last_year"] + 1))}


def _filename(*parts: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(str(x) for x in parts if x not in (None, ""))) + ".csv"


@attrs.frozen
class Table:
    """One of a page's tables, to download: its rows, its columns and the file's name; CSV
    exactly as ``grants --format csv`` prints it (``exact``: only these columns, as the
    audit's events are printed), or an Excel sheet as ``--format xlsx`` writes it."""

    rows: list[dict[str, Any]]
    columns: list[tuple[str, str]]
    name: tuple[Any, ...]
    exact: bool = False

    def csv(self) -> Response:
        text = (as_csv(self.rows, [k for k, _ in self.columns]) if self.exact
                else render(self.rows, "csv", self.columns))
        return Response(text + "\n", media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{_filename(*self.name)}"'})

    def xlsx(self, part: str) -> Response:
        book = Book()
        book.add(part, self.rows, self.columns)
        filename = _filename(*self.name).removesuffix(".csv") + ".xlsx"
        return Response(book.data, media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def table_file(rows: list[dict[str, Any]], columns: list[tuple[str, str]], *name: Any, exact: bool = False) -> Table:
    return Table(list(rows), list(columns), name, exact)


def _wanted_csv(request: Request, parts: dict[str, Any]) -> Response | None:
    """The download a page's ``?csv=PART`` or ``?xlsx=PART`` asks for (None: the page itself)."""
    for kind in ("csv", "xlsx"):
        part = request.query_params.get(kind)
        if part is None:
            continue
        if part not in parts:
            raise Malformed(f"{kind} {part!r} is not one of this page's tables ({', '.join(parts)})")
        table = parts[part]()
        return table.csv() if kind == "csv" else table.xlsx(part)
    return None


def _total(rows: list[dict[str, Any]], key: str) -> Amount:
    return Amount(sum(r[key].ore for r in rows if r.get(key) is not None))


# ------------------------------------------------------------------ pages


def index(reader: Reader, request: Request) -> tuple[str, dict[str, Any]]:
    grants = [{**g, "years": list(range(g["first_year"], g["last_year"] + 1))} for g in reader.grant_names().rows]
    return "index.html", {"grants": grants, "crumbs": []}


def overview(reader: Reader, request: Request) -> Response | tuple[str, dict[str, Any]]:
    """A grant-year: each region's money with a bar, its compliance, the money at risk, totals."""
    grant = the_grant(reader, request.path_params["grant"], request.path_params["year"])
    gid, year, day = grant["grant"], request.path_params["year"], _day(request)
    csv = _wanted_csv(request, {  # a download asks only what it holds
        "balances": lambda: table_file(reader.balances(gid, year=year).rows, BALANCE_COLUMNS, gid,
                                     year, "balances"),
        "compliance": lambda: table_file(reader.compliance(gid, day, year=year).rows, COMPLIANCE_COLUMNS, gid, year, "compliance", day),
    })
    if csv:
        return csv
    balances = reader.balances(gid, year=year).rows
    compliance = reader.compliance(gid, day, year=year).rows
    judged = {r["region"]: r for r in compliance}
    scale = max([sum(ore for *_, ore in charts.bar_parts(b)) for b in balances] + [0])
    rows = [{**b, "judged": judged.get(b["region"]), "bar": charts.money_bar(b, scale)} for b in balances]
    totals = {k: _total(balances, k) for k in ("allocated", "committed", "spent", "reserved", "available",
                                               "shortfall")}
    totals["money_at_risk"] = _total(compliance, "money_at_risk")
    return "overview.html", {
        "grant": grant, "year": year, "day": day, "rows": rows, "totals": totals, "legend": charts.bar_legend(),
        "crumbs": [(grant["name"], links.grant(gid)), (str(year), None)],
        "csv": {k: links.overview(gid, year, csv=k, on=request.query_params.get("on")) for k in
                ("balances", "compliance")},
    }


def region_year(reader: Reader, request: Request) -> Response | tuple[str, dict[str, Any]]:
    """A region's year: its figures, the commitment ladder over the grant's years, the year's
    decisions, its own events (reservations, repayments, reports), filed reports beside now,
    compliance and reclaims."""
    grant = the_grant(reader, request.path_params["grant"], request.path_params["year"])
    gid, year, day = grant["grant"], request.path_params["year"], _day(request)
    region = _region(request.path_params["region"])
    name = Region(region).name
    by = request.query_params.get("by", "purpose")
    if by not in ("purpose", "decision"):
        raise Malformed(f"by {by!r} is not purpose or decision")
    balances = reader.balances(gid, region).rows
    row = next((b for b in balances if b["year"] == year), None)
    if row is None:
        raise NotFound(f"nothing recorded for {region} {name} in {year} of {gid}")
    every = reader.commitments(gid, region).rows
    commitments = [c for c in every if c["year"] == year]
    compliance = reader.compliance(gid, day, region, year).rows
    reclaims = reader.reclaims(gid, day, region, year).rows
    story = reader.year_story(gid, year, region).rows
    on = request.query_params.get("on")
    csv = _wanted_csv(request, {
        "balance": lambda: table_file([row], BALANCE_COLUMNS, gid, year, region, "balance"),
        "commitments": lambda: table_file(commitments, COMMITMENT_COLUMNS, gid, year, region,
                                        "commitments"),
        "compliance": lambda: table_file(compliance, COMPLIANCE_COLUMNS, gid, year, region,
                                       "compliance", day),
        "reclaims": lambda: table_file(reclaims, RECLAIM_COLUMNS, gid, year, region, "reclaims",
                                     day),
    })
    if csv:
        return csv
    keys, stacks = _stacks(gid, region, every, by)
    allocated = {b["year"]: (b["allocated"].ore or (b["frame"].ore if b["frame"] else 0)) for b in balances}
    ladder = charts.ladder(grant["years"], stacks, allocated, keys, year,
                           f"{name}: decided per year of {gid}, stacked by {by}")
    return "region.html", {
        "grant": grant, "year": year, "day": day, "region": region, "name": name, "row": row, "by": by,
        "balance_columns": BALANCE_COLUMNS[3:], "commitments": commitments, "ladder": ladder,
        "ladder_legend": charts.ladder_legend(keys) if len(keys) <= 24 else None,
        "judged": compliance[0] if compliance else None, "reclaims": reclaims, "reclaim_columns": RECLAIM_COLUMNS,
        "year_events": [e for e in story["events"] if e["type"] in YEAR_EVENTS],
        "reports": story["reports"], "year_end": story["year_end"], "year_end_columns": YEAR_END_COLUMNS,
        "other_years": [b["year"] for b in balances],
        "crumbs": [(grant["name"], links.grant(gid)), (str(year), links.overview(gid, year, on=on)),
                   (f"{region} {name}", None)],
        "csv": {k: links.region_year(gid, year, region, csv=k, on=on) for k in
                ("balance", "commitments", "compliance", "reclaims")},
    }


def _stacks(grant_id: str, region: str, commitments: list[dict[str, Any]], by: str
            ) -> tuple[list[str], dict[int, list[tuple[str, int, str | None]]]]:
    """The ladder's columns: per year the live amounts decided, by purpose or by decision."""
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    keys: list[str] = []
    for c in commitments:
        if c["status"] == "revoked" or not c["amount"].ore:
            continue
        key = c[by]
        if key not in keys:
            keys.append(key)
        sums[c["year"]][key] += c["amount"].ore

    def link(year: int, key: str) -> str:
        if by == "decision":
            return links.decision(grant_id, region, key, year=year)
        return links.region_year(grant_id, year, region) + "#commitments"

    return keys, {year: [(k, v, link(year, k)) for k, v in parts.items()] for year, parts in sums.items()}


def decision(reader: Reader, request: Request) -> Response | tuple[str, dict[str, Any]]:
    """A decision: its terms, its schedule now, and every event about it: amendments, bookings,
    credits, reversals."""
    grant = the_grant(reader, request.path_params["grant"])
    gid, region = grant["grant"], _region(request.path_params["region"])
    decision_id = request.path_params["decision"]
    schedule = [c for c in reader.commitments(gid, region).rows if c["decision"] == decision_id]
    if not schedule:
        raise NotFound(f"unknown decision {decision_id!r} of {region} {Region(region).name} in {gid}")
    csv = _wanted_csv(request, {
        "events": lambda: table_file(reader.history(gid, decision_id=decision_id).rows, HISTORY_COLUMNS, gid, decision_id, "history"),
        "schedule": lambda: table_file(schedule, COMMITMENT_COLUMNS, gid, decision_id, "schedule"),
    })
    if csv:
        return csv
    # the decision's own events, read from its own rows of the log (not a replay of the whole
    # log, as `history --decision` is, with the index and commitment events beside them)
    events = reader.decision(gid, decision_id).rows["events"]
    years = [c["year"] for c in schedule]
    asked = request.query_params.get("year", "")
    year = int(asked) if asked.isdigit() and int(asked) in years else years[-1]
    first = schedule[0]
    kinds = defaultdict(list)
    for e in events:
        kinds[e["type"]].append(e)
    return "decision.html", {
        "grant": grant, "region": region, "name": Region(region).name, "decision": decision_id, "first": first,
        "schedule": schedule, "year": year, "events": events,
        "changes": kinds["amended"] + kinds["revoked"], "bookings": kinds["spent"] + kinds["credited"],
        "reversals": kinds["reversed"],
        "totals": {k: _total(schedule, k) for k in ("amount", "spent", "remaining")},
        "crumbs": [(grant["name"], links.grant(gid)), (str(year), links.overview(gid, year)),
                   (f"{region} {Region(region).name}", links.region_year(gid, year, region)), (decision_id, None)],
        "csv": {k: links.decision(gid, region, decision_id, csv=k) for k in ("schedule", "events")},
    }


def audit(reader: Reader, request: Request) -> Response | tuple[str, dict[str, Any]]:
    """A year as of any moment or position: its digest, events, closing figures, filed reports
    beside the year now, and the reconciliation — the answer of ``grants audit``."""
    grant = the_grant(reader, request.path_params["grant"], request.path_params["year"])
    gid, year = grant["grant"], request.path_params["year"]
    raw_region = request.query_params.get("region", "").strip()
    region = _region(raw_region) if raw_region else None
    as_of = _param(request, "as_of", p.TIMESTAMP)
    position = _param(request, "position", p.PositionType(0))
    day = judging_day(_param(request, "on", p.DATE), as_of)
    answer = reader.audit(gid, year, region, day, position=position, as_of=as_of)
    result = answer.rows
    asked = {k: request.query_params.get(k, "").strip() for k in ("region", "as_of", "position", "on")}
    csv = _wanted_csv(request, {
        "events": lambda: table_file(result["events"], [*AUDIT_EVENT_COLUMNS, ("region", "region")],
                                     gid, year, region, "audit", position, as_of and as_of.date(), exact=True),
        **{part: (lambda part=part, columns=columns: table_file(result[part], columns, gid, year,
                                                                region, "audit", part, position,
                                                                as_of and as_of.date()))
           for part, columns in (("balances", BALANCE_COLUMNS), ("commitments", COMMITMENT_COLUMNS),
                                 ("compliance", COMPLIANCE_COLUMNS))},
    })
    if csv:
        return csv
    failing = [c for c in result["reconciliation"] if not c["holds"]]
    return "audit.html", {
        "grant": grant, "year": year, "region": region, "r": result, "notes": answer.notes,
        "empty_then": answer.empty_then, "asked": asked, "day": day, "regions": Region.all(),
        "events": result["events"][:EVENTS_SHOWN], "more_events": max(len(result["events"]) - EVENTS_SHOWN, 0),
        "failing": failing, "figures": [k for k, _ in BALANCE_COLUMNS[3:]],
        "balance_columns": BALANCE_COLUMNS, "commitment_columns": COMMITMENT_COLUMNS,
        "compliance_columns": COMPLIANCE_COLUMNS, "event_columns": AUDIT_EVENT_COLUMNS,
        "crumbs": [(grant["name"], links.grant(gid)), (str(year), links.overview(gid, year)), ("audit", None)],
        "csv": {k: links.audit(gid, year, csv=k, **asked) for k in ("events", "balances", "commitments",
                                                                    "compliance")},
    }
