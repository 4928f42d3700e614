"""The read-only web view of a ledger: a Starlette application that `grants serve` runs
with uvicorn.

Only GET and HEAD exist: any other method, on any address, is 405 before anything is
opened (:class:`ReadOnly`), and no handler calls anything that records. Each request
opens its own ledger and :class:`projections.reader.Reader` in the worker thread that
answers it (handlers are plain functions, which Starlette runs in its thread pool, and
SQLite connections belong to the thread that opened them), and closes them again: the
view reads what the command line reads, the persisted read models for "now" and the fold
for "as of", and renders it on the server (Jinja2, autoescaped; SVG charts; no script).

Errors are pages with one line, never a traceback: an unknown grant, region-year or
decision 404, a malformed parameter 400, a store whose history or read models fail their
checks 500 ("the stored history fails its checks"), a store that cannot be used 503.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eventsourcing.persistence import PersistenceError
from jinja2 import Environment, FileSystemLoader
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger.application import open_ledger
from ledger.errors import Corrupt, LedgerError, Malformed, NotFound
from projections.reader import Reader
from web import links, pages

HERE = Path(__file__).resolve().parent
log = logging.getLogger("grants.web")

ENV = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True,
                  lstrip_blocks=True)
ENV.filters["money"] = links.money
ENV.filters["cell"] = links.cell
ENV.globals["link"] = links


class ReadOnly:
    """Refuses every method but GET and HEAD with 405, whatever the address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse("405 Method Not Allowed: this view is read-only (GET and HEAD only)\n",
                                         status_code=405, headers={"Allow": "GET, HEAD"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


@contextmanager
def reading(db: str) -> Iterator[Reader]:
    """The ledger and its Reader for one request, in the thread that answers it."""
    app = open_ledger(db, must_exist=True)
    try:
        reader = Reader(app, db)
        try:
            yield reader
        finally:
            reader.close()
    finally:
        app.close()


def warm(db: str) -> None:
    """Decode every grant's aggregates as they stand now, once, so that the first pages after
    the server starts are as quick as later ones (``projections.persisted.shared`` keeps the
    decodings). A courtesy run beside the server: whatever fails here, a page says."""
    try:
        with reading(db) as reader:
            models = reader.models()
            for grant in models.grants():
                models.view_for(grant.grant_id, None)
    except Exception:  # noqa: BLE001 (the pages open the ledger themselves and report what is wrong)
        pass


def error_page(status: int, title: str, message: str) -> HTMLResponse:
    html = ENV.get_template("error.html").render(title=title, message=message, status=status, crumbs=[],
                                                 refresh=None)
    return HTMLResponse(html, status_code=status)


def one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def page(build: Callable[[Reader, Request], Response | tuple[str, dict[str, Any]]]) -> Callable[[Request], Response]:
    """A handler: open a Reader, build the page (a template and its context, or a response),
    and turn every error into its page."""

    def handler(request: Request) -> Response:
        try:
            with reading(request.app.state.db) as reader:
                built = build(reader, request)
                if isinstance(built, Response):
                    return built
                template, context = built
                context.setdefault("refresh", pages.refresh_of(request))
                return HTMLResponse(ENV.get_template(template).render(**context))
        except NotFound as e:
            return error_page(404, "Not found", one_line(e))
        except Malformed as e:
            return error_page(400, "Bad request", one_line(e))
        except Corrupt as e:
            return error_page(500, "The stored history fails its checks",
                              f"{one_line(e)} (run grants verify)")
        except LedgerError as e:
            return error_page(400, "Refused", one_line(e))
        except (PersistenceError, sqlite3.Error, OSError) as e:
            return error_page(503, "Cannot use the store", f"cannot use the store: {one_line(e)}")
        except Exception as e:  # noqa: BLE001 (never a traceback in a page; the log has it)
            if type(e).__module__.startswith("psycopg"):
                return error_page(503, "Cannot use the store", f"cannot use the store: {one_line(e)}")
            log.exception("error answering %s", request.url.path)
            return error_page(500, "Internal error", f"the view failed: {type(e).__name__}")

    handler.__name__ = build.__name__
    return handler


def grant_home(reader: Reader, request: Request) -> Response:
    grant = pages.the_grant(reader, request.path_params["grant"])
    return RedirectResponse(links.overview(grant["grant"], grant["last_year"]), status_code=307)


async def not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if status == 405:
        return PlainTextResponse("405 Method Not Allowed\n", status_code=405, headers={"Allow": "GET, HEAD"})
    return error_page(status, "Not found", f"no page at {request.url.path}")


def create_app(db: str) -> Starlette:
    """The web view of the ledger at ``db`` (an SQLite path or a PostgreSQL URL)."""
    routes = [
        Route("/", page(pages.index), methods=["GET"]),
        Route("/g/{grant}", page(grant_home), methods=["GET"]),
        Route("/g/{grant}/{year:int}", page(pages.overview), methods=["GET"]),
        Route("/g/{grant}/{year:int}/audit", page(pages.audit), methods=["GET"]),
        Route("/g/{grant}/{year:int}/r/{region}", page(pages.region_year), methods=["GET"]),
        Route("/g/{grant}/r/{region}/d/{decision:path}", page(pages.decision), methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    app.state.db = db
    app.add_middleware(ReadOnly)
    return app
