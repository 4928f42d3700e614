"""The `grants` command line: the group and every command family, assembled.

Parse, call the application, render: each family of commands lives in its own module
(state, region, queries, auditing, transfer, authority, db, demo, sie) and registers itself on
the group (:mod:`commands.group`), where errors become exit codes in one place.
"""

from __future__ import annotations

from commands import auditing, browse, queries, reclaims, region, serve, sie, state, transfer
from commands.authority import authorisations, deauthorise, region_object
from commands.db import db
from commands.demo import demo
from commands.group import cli

# the families whose commands register themselves on the group as they are imported
FAMILIES = (state, region, queries, auditing, transfer, sie, reclaims, serve, browse)

cli.add_command(demo)
cli.add_command(db)
cli.add_command(deauthorise)
cli.add_command(authorisations)
cli.add_command(region_object)


def main() -> None:
    cli.main(prog_name="grants")
