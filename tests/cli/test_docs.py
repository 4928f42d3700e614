"""The docs are executable: the tutorial's commands give exactly the output it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from commands.cli import cli

DOCS = Path(__file__).parent.parent.parent / "docs"


def console_steps(text: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for every `$ grants` line in ```console blocks."""
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        lines = block.rstrip("\n").split("\n")
        i = 0
        while i < len(lines):
            command = [lines[i]]
            while command[-1].endswith("\\"):
                i += 1
                command.append(lines[i])
            i += 1
            output = []
            while i < len(lines) and not lines[i].startswith("$ "):
                output.append(lines[i])
                i += 1
            steps.append((" ".join(c.rstrip("\\").strip() for c in command)[2:], output))
    return steps


def test_tutorial_replays_exactly(tmp_path, monkeypatch):
    """Every command of docs/tutorial.md prints what the page shows, and fails only where it shows an error."""
    import shutil
    shutil.copytree(ROOT / "docs", tmp_path / "docs")  # its files (docs/examples) are named from the project's
    monkeypatch.chdir(tmp_path)  # folder; what it writes (a workbook) lands in the test's own
    steps = console_steps((DOCS / "tutorial.md").read_text(encoding="utf-8"))
    assert len(steps) > 20
    env = {"GRANTS_DB": str(tmp_path / "tutorial.sqlite"), "GRANTS_USER": "controller"}
    for command, expected in steps:
        argv = shlex.split(command)
        assert argv[0] == "grants"
        result = CliRunner(env=env).invoke(cli, argv[1:])
        shown_error = any(line.startswith("error:") for line in expected)
        assert (result.exit_code != 0) == shown_error, (command, result.output)
        assert _timeless(result.output.rstrip("\n").split("\n")) == _timeless(expected or [""]), command


def _timeless(lines: list[str]) -> list[str]:
    """Lines with their recording times (the moment the page is replayed) left out."""
    return [RECORDED_AT.sub("<recorded at>", line) for line in lines]


RECORDED_AT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


ROOT = Path(__file__).parent.parent.parent
PAGES = ["README.md", "docs/concepts.md", "docs/auditing.md", "docs/operations.md", "docs/events.md",
         "docs/design.md", "docs/sie.md"]
PG_SHOWN = "postgresql://postgres@127.0.0.1:5432/grants"


def shell_commands(text: str) -> list[str]:
    """Every command line of the ```sh blocks of a page (continuations joined, comments dropped)."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        line = ""
        for raw in block.split("\n"):
            line += raw.rstrip("\\").rstrip() + " " if raw.endswith("\\") else raw
            if raw.endswith("\\"):
                continue
            command = line.split("  #")[0].strip()
            line = ""
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_readme_and_docs_commands_run_in_order(tmp_path, monkeypatch, request):
    """Every `grants` command of README.md's and the docs' shell blocks runs as written, in order, from a fresh
    ledger, and succeeds (the PostgreSQL URL they show is replaced by a fresh schema of the test server)."""
    import shutil

    shutil.copytree(ROOT / "commands" / "data", tmp_path / "commands" / "data")
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    monkeypatch.chdir(tmp_path)
    env: dict[str, str] = {"GRANTS_USER": "tour"}
    pg = None
    ran = 0
    for page in PAGES:
        path = ROOT / page
        if not path.exists():
            continue
        for command in shell_commands(path.read_text(encoding="utf-8")):
            if command.startswith(("python3 -m venv", "python bench/")):
                continue  # the install lines are what CI runs; the benchmarks are bench/'s own
            argv = shlex.split(command)
            if argv[0] == "export":
                env.update(a.split("=", 1) for a in argv[1:])
                continue
            assert argv[0] == "grants", f"{page}: {command!r} is not a grants command"
            if any(PG_SHOWN in a for a in argv):
                pg = pg or request.getfixturevalue("pg_url")
                argv = [a.replace(PG_SHOWN, pg) for a in argv]
            result = CliRunner(env=env).invoke(cli, argv[1:])
            assert result.exit_code == 0, (page, command, result.output)
            ran += 1
    assert ran > 30


def test_cli_reference_is_current():
    """docs/cli.md is exactly the commands' own --help (regenerate: python -m commands.reference > docs/cli.md)."""
    from commands.reference import reference

    assert (DOCS / "cli.md").read_text(encoding="utf-8") == reference(), \
        "docs/cli.md is stale: run python -m commands.reference > docs/cli.md"
