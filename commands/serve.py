"""`grants serve`: the read-only web view of the ledger (the ``web`` package), served by uvicorn.
"""

from __future__ import annotations

import click

from commands.group import cli
from commands.options import CONTEXT
from commands.session import Session, pass_session


@cli.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on: this machine only by default; another address lets "
                   "others on the network read the ledger (the view has no login).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="The port to listen on.")
@pass_session
def serve(s: Session, host: str, port: int) -> None:
    """Serve a read-only web view of the ledger until stopped (Ctrl-C): each grant-year's
    regions with their money, compliance and money at risk; a region-year's commitments
    over the years, reports and reclaims; a decision's schedule, bookings and reversals;
    and the audit of a year as of any date or position, each with its CSV. Nothing can be
    recorded through it: only GET and HEAD are answered.

    Pages read what the queries read ("now" from the read models, "as of" from the log).
    Add ?refresh=30 to a page's address to reload it every 30 seconds (to follow what
    others record).

    \b
    Example:
      grants serve                       # then open http://127.0.0.1:8000/
      grants --db postgresql://auditor@127.0.0.1:5432/grants serve --port 8080
    """
    import threading

    import uvicorn

    from web.app import create_app, warm

    s.read.grant_names()  # the store opens as a ledger (an error line and its exit code if not)
    threading.Thread(target=warm, args=(s.db,), name="grants-warm", daemon=True).start()
    click.echo(f"serving a read-only view of {s.db} at http://{host}:{port}/ (Ctrl-C stops)", err=True)
    uvicorn.run(create_app(s.db), host=host, port=port, log_level="warning")
