"""The auditor's commands: audit a year, verify the store, rebuild the read models.
"""

from __future__ import annotations


import datetime
import sys
from typing import Any

import click

from commands import params as p
from commands.render import as_csv, as_json, as_table
from ledger.errors import Corrupt, Refused
from ledger.library import imports_of
from ledger.values import Region
from projections.persisted import ReadModels
from projections.verify import HistoryError, verify_store
from commands.group import cli
from commands.options import CONTEXT, NOTHING_THEN
from commands.session import Session, pass_session
from commands.workbook import audit_sheets
from commands.options import judging_day, progress, time_options, with_grant
from commands.render import AUDIT_EVENT_COLUMNS, BALANCE_COLUMNS, COMMITMENT_COLUMNS, COMPLIANCE_COLUMNS, YEAR_END_COLUMNS, findings_lines, with_totals


@cli.command(context_settings=CONTEXT)
@with_grant
@click.option("--year", required=True, type=p.YEAR, help="The year to audit.")
@click.option("--region", type=p.REGION, default=None, help="Only this region.")
@time_options
@click.option("--on", "judge_on", type=p.DATE, default=None,
              help="Judge compliance as on that day (default: the --as-of day, else today).")
@pass_session
def audit(s: Session, grant_id: str, year: int, region: str | None, as_of, position: int | None,
          judge_on) -> None:
    """The controller's view of one year: every event that touched it (recorded time
    and effective date apart), the opening position carried in from earlier years'
    decisions, the closing balances, commitments and compliance, each filed report
    beside the year as it stands now, a reconciliation of domain.md's identities, and
    the digest of exactly the history replayed. With --format xlsx --output FILE, a
    workbook with one sheet per part (audit, events, opening, balances, commitments,
    compliance, findings, reports, reconciliation, year_end); with --format csv, the
    events.

    With --as-of or --position it answers as the ledger stood then, in whole
    commands (a limit inside one command's atomic write answers as of that
    command's start, with a "note:" on stderr; the position printed is the one
    answered); two auditors who get the same digest replayed the same history.

    \b
    Example:
      grants audit professionsmiljarden --year 2018 --region Jämtland
      grants audit professionsmiljarden --year 2018 --as-of 2019-02-15T23:59:59+01:00
      grants --format json audit professionsmiljarden --year 2018 --position 42
      grants --format xlsx --output audit-2018.xlsx audit professionsmiljarden --year 2018
    """
    result = s.answer(s.read.audit(grant_id, year, region, judging_day(judge_on, as_of), position=position,
                                   as_of=as_of), grant_id)
    if s.fmt == "xlsx":
        for name, rows, columns in audit_sheets(result):
            s.out(rows, columns, "", sheet=name)
        return
    if s.fmt == "json":
        s.echo(as_json(result))
        return
    if s.fmt == "csv":  # every part, each after a "# part" line and with its own header line
        s.echo(as_csv(result["events"], [k for k, _ in AUDIT_EVENT_COLUMNS] + ["region"], s.dialect))
        for part in ("opening", "balances", "commitments", "compliance", "year_end", "reconciliation"):
            if result.get(part):
                s.echo(f"\n# {part}\n" + as_csv(result[part], None, s.dialect))
        return
    s.echo(_audit_text(result))


def _audit_text(r: dict[str, Any]) -> str:
    where = f"{Region(r['region'])}" if r["region"] else "all regions"
    last = r["last_recorded_at"].strftime("%Y-%m-%d %H:%M:%S %Z") if r["last_recorded_at"] else "-"
    as_of = r["as_of"].strftime("%Y-%m-%d %H:%M:%S %Z") if r["as_of"] else "now"
    out = [
        f"Audit of {r['grant']} {r['year']}, {where}",
        f"as of {as_of}: history replayed: positions 1-{r['position']}, last recorded {last}",
        f"digest: {r['digest']}",
        "",
    ]
    if not r["recorded"]:
        return "\n".join(out + [NOTHING_THEN])
    out += [
        f"Events that touched {r['year']} ({len(r['events'])}, in recording order):",
        as_table(r["events"], AUDIT_EVENT_COLUMNS, "  (none)"),
        "",
        "Opening position (commitments carried in from decisions of earlier years):",
        as_table(r["opening"], [("region", "region"), ("decision", "decision"),
                                ("decided_on", "decided on"), ("amount", "amount")], "  (none)"),
        "",
        "Closing balances:",
        as_table(with_totals(r["balances"], BALANCE_COLUMNS), BALANCE_COLUMNS, "  (none)"),
        "",
        "Commitments:",
        as_table(with_totals(r["commitments"], COMMITMENT_COLUMNS), COMMITMENT_COLUMNS, "  (none)"),
        "",
        f"Compliance (judged on {r['compliance'][0]['judged_on'].isoformat() if r['compliance'] else '-'}):",
        as_table(r["compliance"], COMPLIANCE_COLUMNS, "  (none)"),
    ]
    out += findings_lines(r["compliance"])
    if any(row["paid"] or row["reclaimed"] for row in r["year_end"]):
        out += ["", "Year end (prepaid income: paid out, neither decided nor repaid nor reclaimed — a liability "
                    "to the state):",
                as_table(with_totals(r["year_end"], YEAR_END_COLUMNS), YEAR_END_COLUMNS, "  (none)")]
    out += ["", "Filed reports, as filed and as the year stands now:"]
    if not r["reports"]:
        out.append("  (no sealed report)")
    for rep in r["reports"]:
        state = "unchanged since filed" if not rep["changed"] else "CHANGED since filed"
        out.append(f"  {Region(rep['region'])}: filed {rep['filed_on'].isoformat()}, its figures as of positions 1-"
                   f"{rep['position']} ({rep['digest'][:19]}…): {state}")
        for key in rep["changed"]:
            out.append(f"    {key}: {rep['as_filed'][key].pretty()} as filed, {rep['now'][key].pretty()} now")
        for change in rep["changed_by"]:
            out.append(f"    changed by position {change['position']} ({change['type']}): {change['summary']}")
    failing = [c for c in r["reconciliation"] if not c["holds"]]
    out += ["", f"Reconciliation: {len(r['reconciliation']) - len(failing)} of "
                f"{len(r['reconciliation'])} checks hold"
                + (" — the year adds up." if not failing else " — THE YEAR DOES NOT ADD UP:")]
    out.extend(f"  - {c['check']}: {c['detail']}" for c in failing)
    return "\n".join(out)


@cli.command(context_settings=CONTEXT)
@click.option("--digest", "witness", default=None, metavar="DIGEST",
              help="A digest printed earlier (by audit, verify, import or a sealed report): "
                   "prove the history up to --position is still exactly that one.")
@click.option("--position", type=p.PositionType(1), default=None,
              help="With --digest: the last position that digest covers (default: the whole log).")
@pass_session
def verify(s: Session, witness: str | None, position: int | None) -> None:
    """Check the stored history: every event decodes, versions run without gaps, each
    event re-checks against the rules on the history before it, sealed reports' digests
    are ones the history passed through, the digests the read models computed as they
    applied the events still hold, and every year reconciles.

    With --digest (and --position), also prove that the history up to that position is
    exactly the one an earlier audit, verify or sealed report printed: any later edit
    before it shows, even one the read models have since taken in.

    Exit 4 when the history was altered, has missing or reordered events, or is not
    the witnessed one.

    \b
    Examples:
      grants verify
      grants verify --digest sha256:3f5c… --position 1200
    """
    if position is not None and witness is None:
        raise click.UsageError("--position goes with --digest")
    if witness is not None and not _is_digest(witness):
        raise click.BadParameter("a digest is 'sha256:' and 64 hex digits", param_hint="'--digest'")
    app = s.reader
    # SQLite numbers positions without gaps, so a gap is a removed event; PostgreSQL's
    # sequence may skip numbers of rolled-back writes, so there only versions tell.
    models = ReadModels(s.db)
    s.ctx.call_on_close(models.close)
    try:
        with progress("verifying", app.last_position()) as bar:
            report = verify_store(app, models, contiguous="://" not in s.db,
                                  witness=None if witness is None else (position, witness),
                                  progress=bar.update)
    except HistoryError as e:
        click.echo(f"error: stored history fails verification at {e}", err=True)
        sys.exit(4)
    except Corrupt as e:
        click.echo(f"error: stored history fails verification: {e}", err=True)
        sys.exit(4)
    for line in report:
        click.echo(line)
    for row in imports_of(app):
        at = row["at"].astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(f"imported by {row['role']} at {at}: positions {row['first_position']}-"
                   f"{row['last_position']} from a file with SHA-256 {row['file_sha256']}; "
                   f"digest {row['digest']}")


def _is_digest(text: str) -> bool:
    hexpart = text.removeprefix("sha256:")
    return text.startswith("sha256:") and len(hexpart) == 64 and all(c in "0123456789abcdef" for c in hexpart)


@cli.command(context_settings=CONTEXT)
@pass_session
def rebuild(s: Session) -> None:
    """Rebuild every persisted read model (balances, commitments, the aggregates
    compliance reads) from position 0, showing progress on a terminal, and clear the
    aggregates' snapshots (kept again as they are saved).

    Queries for "now" read these models, which every query first brings up to date
    incrementally; a rebuild is never needed for correctness, only to start afresh.

    \b
    Example:
      grants rebuild
    """
    import time

    app = s.reader
    models = ReadModels(s.db)
    s.ctx.call_on_close(models.close)
    if not models.writable:
        raise Refused(f"role {app.server.role} may not rebuild the read models (it is read-only; "
                      "a recorder or the owner may)")
    started = time.perf_counter()
    if app.snapshot_table is not None:
        app.snapshot_table.clear()  # derived like the read models: kept again as aggregates are saved
    with progress("rebuilding", app.last_position()) as bar:
        count = models.rebuild(app, progress=bar.update)
    click.echo(f"rebuilt the read models from {count} events in {time.perf_counter() - started:.1f} s; "
               f"position {models.position()}")
