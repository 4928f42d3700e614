"""Start-up: `grants` imports only what the invoked command needs (issue 13, aim 4).

`grants --help` lists every command from a static table (``commands.cli.COMMANDS``)
without importing the command modules; these tests keep that table equal to the commands'
own help, and check that starting the command line loads neither the ledger's event
library nor the web view nor the workbook writer.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from commands.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]
# packages (and the ledger's application) a command loads only when it needs them
HEAVY = {"eventsourcing", "starlette", "xlsxwriter", "openpyxl", "jinja2", "uvicorn", "projections", "web"}


def _heavy(module: str) -> bool:
    return module.split(".")[0] in HEAVY or module.startswith("ledger.application")


def _python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GRANTS_DB", "GRANTS_FORMAT")}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def _loaded(after: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``after``."""
    done = _python(after + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))")
    assert done.returncode == 0, done.stderr[-2000:]
    return [m for m in done.stdout.split() if _heavy(m)]


def test_importing_the_command_line_loads_no_ledger_library_web_or_workbook():
    """`import commands.cli` (what the `grants` script does first) loads neither the event
    library, the ledger's application, the read models, the web view nor xlsxwriter."""
    assert _loaded("import commands.cli") == []


def test_help_loads_no_command_module():
    """`grants --help` says what every command does without importing a command's module."""
    code = ("import sys\nfrom commands.cli import main\nsys.argv = ['grants', '--help']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n")
    done = _python(code + "print('MODULES', *sorted(sys.modules))")
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(done.stdout.split("MODULES", 1)[1].split())
    families = {target.split(":")[0] for target, _ in COMMANDS.values()}
    assert families & loaded == set()
    assert [m for m in loaded if _heavy(m)] == []


def test_a_command_loads_its_own_module_only():
    """`grants balance --help` imports commands.queries, not the web view (commands.serve)
    nor the auditing or SIE families."""
    code = ("import sys\nfrom commands.cli import main\nsys.argv = ['grants', 'balance', '--help']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print('MODULES', *sorted(sys.modules))")
    done = _python(code)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(done.stdout.split("MODULES", 1)[1].split())
    assert "commands.queries" in loaded
    assert {"commands.serve", "commands.auditing", "commands.sie", "starlette", "xlsxwriter"} & loaded == set()


def _every_command() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    return {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}


def test_the_table_names_every_command_and_where_it_lives():
    """Each entry's "module:attribute" is the command registered under that name, and once
    every module is imported no command is missing from the table."""
    for name, (target, _) in COMMANDS.items():
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), name
        assert _every_command()[name] is command, name
    assert set(cli.commands) == set(COMMANDS)  # every module imported: nothing registered beside the table


def test_the_tables_short_help_is_the_commands_own():
    """The table's short help is what each command itself says (its first sentence), at
    every width click may cut it to: `grants --help` never drifts from the commands."""
    commands = _every_command()
    for name, (_, short) in COMMANDS.items():
        command = commands[name]
        assert not command.hidden, name
        for limit in (20, 45, 60, 78, 10**6):
            assert click.Command(name, help=short).get_short_help_str(limit) == \
                command.get_short_help_str(limit), (name, limit)


@pytest.mark.parametrize("width", [60, 80, 100, 200])
def test_help_lists_every_command_as_click_would(width):
    """`grants --help` lists every command, each with its short help, exactly as click
    lists them from the imported commands (at several terminal widths)."""
    runner = CliRunner()
    lazy = runner.invoke(cli, ["--help"], terminal_width=width)
    assert lazy.exit_code == 0, lazy.output
    listed = lazy.output.split("\nCommands:\n", 1)[1]
    names = [line.split()[0] for line in listed.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    assert names == sorted(COMMANDS)
    ctx = click.Context(cli, info_name="grants", terminal_width=width, max_content_width=100)
    _every_command()
    formatter = ctx.make_formatter()
    click.Group.format_commands(cli, ctx, formatter)  # click's own listing, from the commands
    assert listed == formatter.getvalue().split("Commands:\n", 1)[1]


def test_the_installed_help_lists_every_command(tmp_path):
    """The installed script's `grants --help` (a fresh process) names every command."""
    script = Path(sys.executable).with_name("grants")
    if not script.exists():
        pytest.skip(f"no installed grants script beside {sys.executable}")
    done = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "100"})
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("\nCommands:\n", 1)[1]
    assert [line.split()[0] for line in listed.splitlines() if not line.startswith("   ")] == sorted(COMMANDS)


def test_the_startup_benchmark_runs_in_smoke_mode():
    """bench/startup.py --smoke (one run each, no aim judged) makes a demo ledger in a
    temporary folder and times the baseline, `grants --help` and the now-query: each row
    is printed with its seconds and ratio, and it exits 0."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "startup.py"), "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    for label in ("baseline: python -c pass", "grants --help", "now: grants balance professionsmiljarden"):
        [row] = [line for line in lines if line.startswith(label)]
        seconds, ratio = row[66:].split()[:2]
        assert float(seconds) > 0 and float(ratio) > 0, row
    assert "(smoke: not judged)" in done.stdout and "best of 1" in done.stdout


def test_a_mistyped_command_is_answered_with_the_closest_of_every_command():
    """A mistyped command is answered with the closest names among all commands, imported
    or not (click, from 8.4, says "Did you mean ...?")."""
    if not hasattr(click.exceptions, "NoSuchCommand"):
        pytest.skip("this click names no close commands")
    code = ("import sys\nfrom commands.cli import main\nsys.argv = ['grants', 'balanc']\nmain()\n")
    done = _python(code)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: No such command 'balanc'. Did you mean 'balance'? (see 'grants --help')"


# what a "now" query answered from the read models leaves unloaded: the event library, the
# aggregates and their event catalogue, the fold, the kept states' decoder, the catch-up's batch
NOT_FOR_NOW = ("eventsourcing", "ledger.application", "ledger.persistence", "ledger.grant", "ledger.region_year",
               "ledger.decision", "ledger.voucher", "ledger.events", "projections.fold", "ledger.states",
               "projections.audit", "projections.persisted.batch", "projections.persisted.helper",
               "projections.lookup")


def _run_in_process(folder: Path, *args: str) -> tuple[str, set[str]]:
    """Run `grants ARGS` in a fresh interpreter (through click's main, in-process) and return
    its output and the modules it had loaded when the command ended."""
    code = ("import sys\nfrom commands.cli import cli\n"
            f"try:\n    cli.main({list(args)!r}, prog_name='grants')\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print('MODULES', *sorted(sys.modules))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANTS_")}
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out, modules = done.stdout.split("MODULES", 1)
    return out, set(modules.split())


def test_the_balance_now_query_loads_no_event_library_nor_aggregates(tmp_path):
    """`grants balance G --region 23 --year 2018` on a ledger whose read models are current
    reads and checks the sealed rows without the event library, the aggregates, their event
    catalogue, the fold or the kept states' decoder (issue 13: the now-query's start-up);
    with a new event to apply first, it loads them and answers the same."""
    _run_in_process(tmp_path, "demo")  # the demo answers from the fold: no read models yet
    query = ("balance", "professionsmiljarden", "--region", "23", "--year", "2018")
    first, modules = _run_in_process(tmp_path, *query)  # builds the read models: every event applied
    assert "ledger.events" in modules
    out, modules = _run_in_process(tmp_path, *query)
    assert out == first
    assert "2 228 598" in out and "Jämtland" in out
    assert sorted(m for m in modules if m.startswith(NOT_FOR_NOW)) == []
    assert "projections.persisted" in modules  # it did read the read models
    _run_in_process(tmp_path, "--user", "anna", "requisition", "professionsmiljarden", "--region", "23",
                    "--year", "2018", "--pot", "stimulus", "--amount", "100", "--on", "2018-03-01", "--ref", "R-1")
    after, modules = _run_in_process(tmp_path, "--format", "json", *query)
    assert "ledger.events" in modules  # the catch-up decoded and applied the new event
    [row] = json.loads(after)
    assert (row["requisitioned"], row["reserved"]) == ("100.00", "2228598.00")


def test_list_grants_and_show_decision_load_only_the_aggregates_they_show(tmp_path):
    """`grants list grants` reads the kept grants (and the region-years' sealed keys) without
    importing the region-year or decision classes, the event catalogue or the application;
    `grants show decision` imports the decision's class and the catalogue's decoder, but
    neither the region-year (the largest aggregate class) nor the application."""
    _run_in_process(tmp_path, "demo")
    _run_in_process(tmp_path, "balance", "professionsmiljarden")  # the read models, built once
    out, modules = _run_in_process(tmp_path, "list", "grants")
    assert "professionsmiljarden" in out and "21 (01, 03, 04, …)" in out
    assert "ledger.grant" in modules
    assert sorted(m for m in modules if m.startswith(("ledger.region_year", "ledger.decision", "ledger.events",
                                                      "ledger.application", "ledger.persistence"))) == []
    out, modules = _run_in_process(tmp_path, "show", "decision", "professionsmiljarden", "JH-PM-01")
    assert "Decision JH-PM-01 of professionsmiljarden, 23 Jämtland" in out and "decided" in out
    assert {"ledger.decision", "ledger.decoding", "ledger.events"} <= modules
    assert sorted(m for m in modules if m.startswith(("ledger.region_year", "ledger.voucher", "ledger.application",
                                                      "ledger.persistence"))) == []
