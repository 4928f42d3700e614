"""The CLI reference (docs/cli.md), made from the commands' own `--help`.

    python -m commands.reference > docs/cli.md

A test fails when docs/cli.md is not what this prints, so the reference never drifts
from the code.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from commands.cli import cli

WIDTH = 100


def _walk(command: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):  # every command, its module imported if need be
        ctx = click.Context(command, info_name=path[-1])
        for name in sorted(command.list_commands(ctx)):
            yield from _walk(command.get_command(ctx, name), path + [name])


def reference() -> str:
    """Every command's help, in the order `grants --help` lists them, as one Markdown page."""
    out = [
        "# Command-line reference",
        "",
        "Made from each command's `--help` (`python -m commands.reference > docs/cli.md`; a test",
        "keeps it current). The contract scripts rely on is `../shared/spec/cli.md`: exit codes",
        "0 done or unchanged, 1 refused, 2 malformed, 3 gave up on a concurrent writer, 4 the",
        "stored history was altered.",
        "",
    ]
    for path, command in _walk(cli, ["grants"]):
        if command.hidden:
            continue
        name = " ".join(path)
        ctx = click.Context(command, info_name=path[-1], max_content_width=WIDTH, terminal_width=WIDTH,
                            help_option_names=["-h", "--help"])
        ctx.info_name = name
        out += [f"## `{name}`", "", "```text", ctx.get_help(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    click.echo(reference(), nl=False)
