"""`grants db init`: set up a ledger's store, and on PostgreSQL its roles and guards.

On PostgreSQL, run by the schema's owner (an administrator), it creates the event table
and the read models' tables, makes the event table append-only in the server (triggers
refuse UPDATE, DELETE and TRUNCATE for every role, the owner's too: the event library
locks the table IN EXCLUSIVE MODE before it inserts, which needs the UPDATE privilege, so
privileges alone cannot forbid updates), makes the server check who records (an event's
``recorded_by`` must be the role the server authenticated, or start with it and a display
name in brackets, except inside an import registered in ``grants_imports``), and grants
the named roles what they need and no more. Running it again changes nothing.
"""

from __future__ import annotations

import os
from typing import Any

import click
from eventsourcing.persistence import PersistenceError

from commands import params as p
from commands.options import CONTEXT
from ledger.application import GrantLedger
from ledger.persistence import store_env
from ledger.errors import Malformed
from ledger.library import POSTGRES_EVENTS, POSTGRES_SEQUENCE
from ledger.snapshots import TABLE as SNAPSHOTS, create_statement as snapshot_table
from ledger.stores import check_postgres
from projections.persisted import TABLES, ReadModels


IMPORTS = "grants_imports"


def _guards(schema: str) -> list[str]:
    """The SQL that makes the event table append-only and checks recorders (idempotent)."""
    s = '"' + schema.replace('"', '""') + '"'
    events, imports = f"{s}.{POSTGRES_EVENTS}", f"{s}.{IMPORTS}"
    fixed = "SECURITY INVOKER SET search_path = pg_catalog, pg_temp"
    return [
        # who imported a history, when, and what: written in the import's own transaction
        f"CREATE TABLE IF NOT EXISTS {imports} (id BIGSERIAL PRIMARY KEY, "
        "role TEXT NOT NULL DEFAULT session_user, at TIMESTAMPTZ NOT NULL DEFAULT now(), "
        "txid BIGINT NOT NULL DEFAULT txid_current(), file_sha256 TEXT, digest TEXT, "
        "events BIGINT, first_position BIGINT, last_position BIGINT)",
        f"CREATE OR REPLACE FUNCTION {s}.grants_refuse_change() RETURNS trigger LANGUAGE plpgsql {fixed} AS $$\n"
        "BEGIN\n"
        "  RAISE EXCEPTION 'grants: the table % is append-only: % refused for role %', "
        "TG_TABLE_NAME, TG_OP, session_user USING ERRCODE = 'insufficient_privilege';\n"
        "END $$",
        f"CREATE OR REPLACE FUNCTION {s}.grants_check_recorder() RETURNS trigger LANGUAGE plpgsql {fixed} AS $$\n"
        "DECLARE who text;\n"
        "BEGIN\n"
        "  BEGIN\n"
        "    who := convert_from(NEW.state, 'UTF8')::jsonb ->> 'recorded_by';\n"
        "  EXCEPTION WHEN others THEN who := NULL;\n"
        "  END;\n"
        "  IF who = session_user OR left(who, length(session_user) + 2) = session_user || ' (' THEN\n"
        "    RETURN NEW;\n"
        "  END IF;\n"
        f"  IF EXISTS (SELECT 1 FROM {imports} WHERE txid = txid_current()) THEN\n"
        "    RETURN NEW;  -- an import into an empty ledger keeps the file's recorders\n"
        "  END IF;\n"
        "  RAISE EXCEPTION 'grants: role % may not record an event as %', session_user, "
        "coalesce(quote_literal(who), 'no one') USING ERRCODE = 'insufficient_privilege';\n"
        "END $$",
        f"CREATE OR REPLACE FUNCTION {s}.grants_register_import() RETURNS trigger LANGUAGE plpgsql {fixed} AS $$\n"
        "BEGIN\n"
        f"  IF EXISTS (SELECT 1 FROM {events}) THEN\n"
        "    RAISE EXCEPTION 'grants: an import goes only into an empty ledger' "
        "USING ERRCODE = 'insufficient_privilege';\n"
        "  END IF;\n"
        "  NEW.role := session_user; NEW.at := now(); NEW.txid := txid_current();\n"
        "  RETURN NEW;\n"
        "END $$",
        f"CREATE OR REPLACE FUNCTION {s}.grants_complete_import() RETURNS trigger LANGUAGE plpgsql {fixed} AS $$\n"
        "BEGIN\n"
        "  IF OLD.txid <> txid_current() OR NEW.id <> OLD.id OR NEW.role <> OLD.role OR NEW.at <> OLD.at\n"
        "     OR NEW.txid <> OLD.txid THEN\n"
        "    RAISE EXCEPTION 'grants: the record of an import is completed only by that import' "
        "USING ERRCODE = 'insufficient_privilege';\n"
        "  END IF;\n"
        "  RETURN NEW;\n"
        "END $$",
        f"CREATE OR REPLACE TRIGGER grants_events_append_only BEFORE UPDATE OR DELETE ON {events} "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.grants_refuse_change()",
        f"CREATE OR REPLACE TRIGGER grants_events_no_truncate BEFORE TRUNCATE ON {events} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {s}.grants_refuse_change()",
        f"CREATE OR REPLACE TRIGGER grants_events_recorder BEFORE INSERT ON {events} "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.grants_check_recorder()",
        f"CREATE OR REPLACE TRIGGER grants_imports_register BEFORE INSERT ON {imports} "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.grants_register_import()",
        f"CREATE OR REPLACE TRIGGER grants_imports_complete BEFORE UPDATE ON {imports} "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.grants_complete_import()",
        f"CREATE OR REPLACE TRIGGER grants_imports_keep BEFORE DELETE ON {imports} "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.grants_refuse_change()",
        f"CREATE OR REPLACE TRIGGER grants_imports_no_truncate BEFORE TRUNCATE ON {imports} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {s}.grants_refuse_change()",
    ]


def _grants(schema: str, recorder: str | None, auditor: str | None) -> list[str]:
    """What each role may do, and no more (GRANT is idempotent)."""
    s = '"' + schema.replace('"', '""') + '"'
    events, imports = f"{s}.{POSTGRES_EVENTS}", f"{s}.{IMPORTS}"
    models = ", ".join(f"{s}.{t}" for t in (*TABLES, SNAPSHOTS))
    out = []
    if recorder:
        r = _ident(recorder)
        out += [
            f"GRANT USAGE ON SCHEMA {s} TO {r}",
            # UPDATE only because the library locks the table IN EXCLUSIVE MODE to insert;
            # the triggers refuse every UPDATE, DELETE and TRUNCATE
            f"GRANT SELECT, INSERT, UPDATE ON {events} TO {r}",
            # UPDATE: an import sets the sequence to the file's positions
            f"GRANT USAGE, SELECT, UPDATE ON SEQUENCE {s}.{POSTGRES_SEQUENCE} TO {r}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {models} TO {r}",
            f"GRANT SELECT, INSERT, UPDATE ON {imports} TO {r}",
            f"GRANT USAGE ON SEQUENCE {s}.{IMPORTS}_id_seq TO {r}",
        ]
    if auditor:
        a = _ident(auditor)
        out += [
            f"GRANT USAGE ON SCHEMA {s} TO {a}",
            f"GRANT SELECT ON {events}, {imports}, {models} TO {a}",
        ]
    return out


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fingerprint(conn: Any, schema: str) -> list[tuple]:
    """What db init sets up, as the catalog holds it: tables with their owners and grants,
    triggers, functions, the schema's grants. Equal before and after: nothing changed."""
    return [
        *conn.execute("SELECT c.relname, c.relkind::text, c.relowner::regrole::text, "
                      "coalesce(c.relacl::text, '') FROM pg_class c JOIN pg_namespace n "
                      "ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1", [schema]).fetchall(),
        *conn.execute("SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c "
                      "ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY 1", [schema]).fetchall(),
        *conn.execute("SELECT p.proname, md5(p.prosrc), coalesce(p.proconfig::text, '') FROM pg_proc p "
                      "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s ORDER BY 1",
                      [schema]).fetchall(),
        *conn.execute("SELECT coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = %s",
                      [schema]).fetchall(),
        *conn.execute(f"SELECT position FROM {_ident(schema)}.grants_rm_tracking").fetchall(),
    ] if _has_tables(conn, schema) else []


def _has_tables(conn: Any, schema: str) -> bool:
    return conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = %s AND c.relname = 'grants_rm_tracking'", [schema]).fetchone()[0] > 0


@click.group(context_settings=CONTEXT)
def db() -> None:
    """Set up a ledger's store (on PostgreSQL: its tables, guards and roles)."""


@db.command(context_settings=CONTEXT)
@click.option("--recorder-role", default=None, metavar="NAME",
              help="An existing PostgreSQL role that may record and query (not alter or remove).")
@click.option("--auditor-role", default=None, metavar="NAME",
              help="An existing PostgreSQL role that may only read: every query, audit, verify, export.")
@click.pass_obj
def init(s: Any, recorder_role: str | None, auditor_role: str | None) -> None:
    """Create the ledger's tables; on PostgreSQL make the event table append-only in the
    server, make the server check who records, and grant the named roles what they need.

    Run it as the schema's owner (an administrator), once when the ledger is set up,
    again after an upgrade of grants, and whenever a role is added; a second run with
    the same roles changes nothing ("unchanged"). The roles must exist (CREATE ROLE ...
    LOGIN); a role not found exits 2. Every UPDATE, DELETE and TRUNCATE of the event
    table is then refused, the owner's too; an event whose recorder is not the role the
    server authenticated (with --user only beside it) is refused. On SQLite it creates
    the ledger file if missing; there are no roles (whoever may write the file records,
    and --user is self-declared). See docs/operations.md.

    \b
    Example:
      grants --db 'postgresql://grants_admin@db.region.se:5432/grants?schema=ledger' \\
        db init --recorder-role anna_rec --auditor-role revisor_erik
    """
    target = s.db
    env = store_env(target)
    if env["PERSISTENCE_MODULE"].endswith("sqlite"):
        if recorder_role or auditor_role:
            raise Malformed("roles do not apply to an SQLite ledger: whoever may write its file records "
                            "(give a postgresql:// --db, or no --recorder-role/--auditor-role)")
        existed = os.path.exists(env["SQLITE_DBNAME"])
        s.app  # opens the ledger, creating the file if missing
        ReadModels(target).close()
        where = env["SQLITE_DBNAME"]
        if existed:
            click.echo(f"unchanged: the ledger at {where} exists (roles do not apply to SQLite)")
        else:
            click.echo(f"created: the ledger at {where} (roles do not apply to SQLite)")
        return
    import psycopg

    check_postgres(env, must_exist=False)
    schema = env.get("POSTGRES_SCHEMA", "").strip() or "public"
    conn = psycopg.connect(host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]),
                           dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
                           password=env["POSTGRES_PASSWORD"] or None, connect_timeout=5, autocommit=True)
    try:
        for option, role in (("--recorder-role", recorder_role), ("--auditor-role", auditor_role)):
            if role is not None and conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                                 [role]).fetchone() is None:
                raise Malformed(f"{option} {role}: no such role on the server (create it first: "
                                f"CREATE ROLE {_ident(role)} LOGIN)")
        before = _fingerprint(conn, schema)
        GrantLedger(env={**env, "CREATE_TABLE": "yes"}).close()  # the event table, if missing
        ReadModels(target).close()  # the read models' tables, if missing (or of an older layout)
        with conn.transaction():
            quoted = '"' + schema.replace('"', '""') + '"'
            conn.execute(snapshot_table(True, f"{quoted}.{SNAPSHOTS}"))  # kept states, if missing
            for statement in _guards(schema) + _grants(schema, recorder_role, auditor_role):
                conn.execute(statement)
        after = _fingerprint(conn, schema)
    except (psycopg.Error, PersistenceError) as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise Malformed(f"db init: the server refused: {text} (run it as the schema's owner)") from None
    finally:
        conn.close()
    roles = "; ".join(part for part in (
        f"recorder role {recorder_role} may record and query" if recorder_role else "",
        f"auditor role {auditor_role} may only read" if auditor_role else "") if part)
    what = f"schema {schema}: event table append-only, recorders checked by the server" + (
        f"; {roles}" if roles else "")
    click.echo(f"unchanged: {what}" if before == after else f"initialised: {what}")


p.textual(init.params)  # a role name is one line of printable text, like every option
