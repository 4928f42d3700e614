"""Shell completion of the ledger's names: grant ids, decision ids, purposes and regions.

click asks a parameter's type (``commands.params``) for completions as the user presses
TAB; the names come from the ledger that ``--db`` (or ``GRANTS_DB``, or the default) names,
read quietly: a missing or foreign store, a server that does not answer or any other
error completes nothing, never prints, never creates a file (see README.md, "Shell
completion", for bash, zsh and fish).
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

from ledger.values import Region, _fold


def ledger_names(ctx: click.Context, kind: str, incomplete: str) -> list[CompletionItem]:
    """The grant ids, the typed grant's decision ids or its purposes that begin with
    ``incomplete``; [] on any error."""
    try:
        from ledger.application import open_ledger
        from projections.lookup import known_names

        db = ctx.find_root().params.get("db") or "grants.sqlite"
        grant_id = _grant_of(ctx)
        if kind in ("decision", "purpose") and not grant_id:
            return []
        app = open_ledger(db, must_exist=True)
        try:
            names = known_names(app, db, kind, grant_id)
        finally:
            app.close()
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]
    except Exception:  # noqa: BLE001 (completion never fails: it completes nothing)
        return []


def _grant_of(ctx: click.Context) -> Any:
    """The grant typed so far on the command line (GRANT, or sie's --grant), if any. When the
    option being completed has no value yet, click's parse stops before the arguments are
    taken: GRANT is then the first word left over."""
    if ctx.params.get("grant_id"):
        return ctx.params["grant_id"]
    grant_argument = any(isinstance(p, click.Argument) and p.name == "grant_id" for p in ctx.command.params)
    return ctx.args[0] if grant_argument and ctx.args else None


def region_names(incomplete: str) -> list[CompletionItem]:
    """The regions whose code or name begins with ``incomplete`` (case and diacritics aside):
    codes for digits, else names (a space written as '-', which --region reads the same)."""
    typed = incomplete.strip()
    if typed.isdigit() or not typed:
        found = [CompletionItem(r.code, help=r.name) for r in Region.all() if r.code.startswith(typed)]
        if typed:
            return found
    key = _fold(typed.replace("-", " "))
    return [CompletionItem(r.name.replace(" ", "-"), help=r.code) for r in Region.all()
            if _fold(r.name).startswith(key)]
