"""Fuzzing every command's arguments: valid values mixed with hostile ones, run in-process
against a copy of one small prepared ledger (see issue 7, §5).

Whatever is typed, `grants` never ends in a traceback, exits 0-3, says what was wrong in
one or two `error:` lines, and a refused (1), malformed (2) or given-up (3) command
changes nothing in the store: neither the events nor the read models. A value that is
not one line of printable text (a control character, a byte that is not UTF-8) is
always malformed, and a failed command on a new path leaves no file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.cli import cli
from ledger.values import text_fault
from tests.jamtland import G, jamtland
from tests.drivers import Grants

EXAMPLES = int(os.environ.get("GRANTS_FUZZ_EXAMPLES", "1000"))

# ----------------------------------------------------------------------------- values

VALID: dict[str, list[str]] = {
    "grant": [G],
    "new-grant": ["g2", G],
    "region": ["23", "Jämtland", "01", "region jämtland härjedalen"],
    "year": ["2018", "2017", "2016"],
    "years": ["2016-2018", "2019"],
    "date": ["2018-05-01", "2019-02-10", "2016-01-01"],
    "amount": ["1000", "125 000,50", "8357305 kr", "0"],
    "year=amount": ["2018=1000", "2017=500", "2018=2 228 599"],
    "pot=amount": ["stimulus=1000", "nurse-education=5"],
    "code=text": ["it-admin=IT", "new-purpose=Something new"],
    "purpose=text": ["it-admin=New scheduling system", "competence-use=Mobile team", "it-admin="],
    "pot=purpose": ["nurse-education=nurse-specialist-education"],
    "pot": ["stimulus", "nurse-education"],
    "purpose": ["it-admin", "competence-use", "nurse-specialist-education"],
    "decision": ["JH-PM-01", "JH-PM-02", "JH-PM-11", "NEW-1"],
    "voucher": ["V-1", "V-NEW"],
    "person": ["Anna Berg", "Mallory"],
    "text": ["a reason", "Mobilt närvårdsteam", "Hud, infektion, medicin"],
    "code": ["9902", "3"],
    "timestamp": ["2019-02-15", "2019-02-15T12:00:00+01:00", "2100-01-01Z"],
    "position": ["10", "0", "999999"],
    "file": ["missing.csv"],
    "status": ["live", "amended", "revoked"],
}

HOSTILE_LITERALS = [
    "", " ", "\t", "-", "--", "0", "-1", "-100", "-0", "+5", "1e400", "1E5", "1e-3", "NaN", "nan",
    "Infinity", "-inf", "0x10", "1_000", "٢٠١٨", "２０１８", "²", "2018-02-30", "99999-01-01",
    "0000-01-01", "2018-13-01", "2018-5-1", "20180501", "2018-05-01T00:00", "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-23:59", "9999-12-31", "1900-01-01", "2199-12-31", "9" * 5000, "x" * 20000,
    "2018=", "=1000", "2018=-5", "2018=1e3", "2018=1000=1", "1899=5", "stimulus=NaN", "a=b=c",
    "=", "Atlantis", "99", "00", "UNKNOWN", "0.001", "1,234", "1.2.3", "12,345,678", "  2018  ",
    "\x00", "a\nb", "\r", "x\x1b[31mred", "\x7f", "\x85", "\udcff", "\ud800", "\u202eevil",
    "\u2028", "\ufeff", "\ue000", "null", "[]", "{}", "'; DROP TABLE stored_events; --",
    "../../etc/passwd", "professionsmiljarden ", "PROFESSIONSMILJARDEN", "V-1\n", "Anna Berg\t",
]

hostile = st.one_of(
    st.sampled_from(HOSTILE_LITERALS),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp", "Co"]), min_size=1, max_size=3),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.builds(lambda a, b: f"{a}={b}", st.integers(1800, 2300), st.integers(-10**16, 10**16)),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
    st.characters(categories=["Cs"]).map(lambda c: f"x{c}y"),
)


def _can_be_environment(text: str) -> bool:
    """A real environment holds no NUL, and only the lone surrogates that stand for bytes."""
    try:
        return "\x00" not in text and bool(os.fsencode(text)) | True
    except UnicodeError:
        return False


def value(draw, kind: str, hostility: float) -> str:
    """A valid value of the kind, or with probability ``hostility`` a hostile one."""
    if draw(st.floats(0, 1)) < hostility:
        return draw(hostile)
    return draw(st.sampled_from(VALID[kind]))


# ----------------------------------------------------------------------------- commands

# (argv before the options, [(option, kind, required, repeatable)]); a kind of None is a flag.
R, O = True, False
COMMANDS: list[tuple[list[str], list[tuple[str, str | None, bool, bool]]]] = [
    (["grant", "define", "@new-grant"], [("--name", "text", R, O), ("--years", "years", R, O),
                                         ("--purpose", "code=text", R, True), ("--category", "code", O, O),
                                         ("--accounting-object", "code", O, O)]),
    (["agreement", "sign", "@grant"], [("--year", "year", R, O), ("--signed-on", "date", R, O),
                                      ("--pot", "pot=amount", R, True), ("--report-due", "date", R, O),
                                      ("--earmark", "pot=purpose", O, True), ("--payer", "text", O, O),
                                      ("--report-to", "text", O, O), ("--population-date", "date", O, O),
                                      ("--ref", "text", O, O)]),
    (["allocate", "@grant"], [("--year", "year", R, O), ("--pot", "pot", R, O), ("--region", "region", R, O),
                              ("--amount", "amount", R, O), ("--table", "file", O, O),
                              ("--by-population", "file", O, O)]),
    (["frame", "@grant"], [("--region", "region", R, O), ("--year", "year", R, O), ("--amount", "amount", R, O),
                           ("--on", "date", O, O), ("--ref", "text", O, O)]),
    (["requisition", "@grant"], [("--region", "region", R, O), ("--year", "year", R, O), ("--pot", "pot", R, O),
                                 ("--amount", "amount", R, O), ("--on", "date", R, O), ("--ref", "text", R, O)]),
    (["authorise", "@grant"], [("--region", "region", R, O), ("--person", "person", R, O),
                               ("--role", "text", O, O), ("--from", "date", O, O), ("--until", "date", O, O)]),
    (["decide", "@grant"], [("--region", "region", R, O), ("--decision", "decision", R, O),
                            ("--decided-by", "person", R, O), ("--on", "date", R, O), ("--area", "text", R, O),
                            ("--activity", "text", R, O), ("--purpose", "purpose", R, O),
                            ("--amount", "year=amount", R, True), ("--continuation", "text", O, O),
                            ("--ref", "text", O, O)]),
    (["amend", "@grant"], [("--decision", "decision", R, O), ("--amount", "year=amount", R, True),
                           ("--decided-by", "person", R, O), ("--on", "date", R, O), ("--reason", "text", R, O)]),
    (["revoke", "@grant"], [("--decision", "decision", R, O), ("--decided-by", "person", R, O),
                            ("--on", "date", R, O), ("--reason", "text", R, O)]),
    (["spend", "@grant"], [("--decision", "decision", R, O), ("--year", "year", R, O), ("--amount", "amount", R, O),
                           ("--booked-on", "date", R, O), ("--object", "code", R, O),
                           ("--voucher", "voucher", R, O), ("--text", "text", O, O)]),
    (["reverse", "@grant"], [("--voucher", "voucher", R, O), ("--on", "date", R, O), ("--reason", "text", R, O)]),
    (["reserve", "@grant"], [("--region", "region", R, O), ("--year", "year", R, O), ("--amount", "amount", R, O),
                             ("--purpose", "purpose", R, O), ("--on", "date", R, O), ("--ref", "text", R, O)]),
    (["repay", "@grant"], [("--region", "region", R, O), ("--year", "year", R, O), ("--amount", "amount", R, O),
                           ("--on", "date", R, O), ("--ref", "text", R, O), ("--pot", "pot", O, O)]),
    (["report", "@grant"], [("--region", "region", R, O), ("--year", "year", R, O), ("--filed-on", "date", R, O),
                            ("--covers", "purpose", O, True), ("--patient-units", None, O, O),
                            ("--no-employee-reps", None, O, O), ("--measures", "purpose=text", O, True),
                            ("--patient-units-involvement", "text", O, O),
                            ("--employee-reps-involvement", "text", O, O), ("--continuation", "text", O, O),
                            ("--responsible", "person", O, O), ("--to", "text", O, O), ("--ref", "text", O, O)]),
    (["close", "@grant"], [("--region", "region", R, O), ("--year", "year", R, O), ("--on", "date", R, O)]),
    (["reopen", "@grant"], [("--region", "region", R, O), ("--year", "year", R, O), ("--on", "date", R, O),
                            ("--reason", "text", R, O)]),
    (["balance", "@grant"], [("--region", "region", O, O), ("--year", "year", O, O),
                             ("--as-of", "timestamp", O, O), ("--position", "position", O, O)]),
    (["commitments", "@grant"], [("--region", "region", O, O), ("--year", "year", O, O),
                                 ("--as-of", "timestamp", O, O), ("--position", "position", O, O)]),
    (["compliance", "@grant"], [("--region", "region", O, O), ("--year", "year", O, O),
                                ("--as-of", "timestamp", O, O), ("--position", "position", O, O),
                                ("--on", "date", O, O)]),
    (["history", "@grant"], [("--region", "region", O, O), ("--decision", "decision", O, O)]),
    (["audit", "@grant"], [("--year", "year", R, O), ("--region", "region", O, O),
                           ("--as-of", "timestamp", O, O), ("--position", "position", O, O),
                           ("--on", "date", O, O)]),
    (["list", "grants"], []),
    (["list", "decisions", "@grant"], [("--region", "region", O, O), ("--year", "year", O, O),
                                       ("--purpose", "purpose", O, O), ("--status", "status", O, O)]),
    (["show", "grant", "@grant"], []),
    (["show", "decision", "@grant", "@decision"], []),
    (["export"], [("--output", "file", O, O)]),
    (["verify"], []),
    (["rebuild"], []),
    (["demo"], [("--on", "date", O, O)]),
]
QUERIES = {"balance", "commitments", "compliance", "history", "audit", "export", "verify", "rebuild", "list", "show"}


@st.composite
def invocations(draw) -> tuple[list[str], dict[str, str]]:
    """One command line (argv after --db) and its environment."""
    words, options = draw(st.sampled_from(COMMANDS))
    hostility = draw(st.sampled_from([0.0, 0.04, 0.1, 0.3]))  # most runs get past the parser
    argv = [value(draw, w[1:], hostility) if w.startswith("@") else w for w in words]
    for option, kind, required, repeatable in options:
        if not draw(st.floats(0, 1)) < (0.97 if required else 0.1 if kind == "file" else 0.35):
            continue
        times = draw(st.integers(1, 3)) if repeatable else 1
        given_values: set[str] = set()
        for _ in range(times):
            given = None if kind is None else value(draw, kind, hostility)
            if given not in given_values:  # the same value twice is a plain usage error
                argv += [option] if kind is None else [option, given]
                given_values.add(given)
    if draw(st.floats(0, 1)) < hostility / 4:  # junk where an option would go
        argv.insert(draw(st.integers(0, len(argv))), draw(hostile))
    prefix = []
    if draw(st.booleans()):
        prefix += ["--user", draw(hostile) if draw(st.floats(0, 1)) < hostility else "clerk 2"]
    prefix += ["--format", draw(st.sampled_from(["table", "json", "csv"]))]
    env = {}
    if draw(st.floats(0, 1)) < hostility / 2:
        env["GRANTS_USER"] = draw(hostile.filter(_can_be_environment))
    fresh = draw(st.floats(0, 1)) < 0.1  # on a path where no ledger is yet
    return prefix + argv, env, fresh


# ----------------------------------------------------------------------------- the ledger

def dump(path: str) -> dict[str, list[tuple]]:
    """Every row of every table of the store, the events and the read models alike."""
    conn = sqlite3.connect(path)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[str, dict[str, list[tuple]]]:
    """A small ledger (Jämtland 2018 with a frame, a booking and a requisition) whose read
    models are up to date, and its dump."""
    path = str(tmp_path_factory.mktemp("fuzz") / "prepared.sqlite")
    grants = Grants(path)
    jamtland(grants)
    grants("frame", G, "--region", "23", "--year", "2017", "--amount", "1000000", "--on", "2016-02-01")
    grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "125 000,50",
           "--booked-on", "2018-03-31", "--object", "9902", "--voucher", "V-1", "--text", "salary")
    grants("requisition", G, "--region", "23", "--year", "2018", "--pot", "stimulus",
           "--amount", "1000", "--on", "2018-03-01", "--ref", "REK-1")
    grants("balance", G)  # brings the read models up to date
    return path, dump(path)


def problems(result, argv: list[str], env: dict[str, str], before: dict, after: dict,
             left: list[str]) -> list[str]:
    """What is wrong with one run, by the rules in the module's docstring."""
    found = []
    bad_text = [a for a in argv if text_fault(a)]
    if "--user" not in argv:
        bad_text += [v for v in env.values() if text_fault(v)]
    if bad_text and result.exit_code != 2:
        found.append(f"exit {result.exit_code} with text that is not one printable line: {bad_text[0]!r}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        found.append(f"traceback: {type(result.exception).__name__}: {result.exception}")
    if result.exit_code not in (0, 1, 2, 3):
        found.append(f"exit {result.exit_code}")
    if "Traceback" in result.stdout + result.stderr:
        found.append("a traceback was printed")
    if result.exit_code != 0:
        lines = result.stderr.splitlines()
        if not 1 <= len(lines) <= 2 or not lines[0].startswith("error: "):
            found.append(f"error output is not one or two 'error:' lines: {result.stderr[:300]!r}")
    if result.exit_code in (1, 2, 3) and after != before:
        changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
        found.append(f"exit {result.exit_code} but the store changed: {changed}")
    if result.exit_code != 0 and left:
        found.append(f"exit {result.exit_code} on a new path left files behind: {left}")
    command = next((w for w in argv if w in QUERIES), None)
    if command and after.get("stored_events") != before.get("stored_events"):
        found.append(f"the query {command} changed the events")
    return found


def run(prepared, workdir: Path, argv: list[str], env: dict[str, str], fresh: bool = False):
    """Run one command line against a fresh copy of the prepared ledger (or, ``fresh``,
    on a path where nothing is yet)."""
    source, before = prepared
    folder = workdir / "store"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    db = str(folder / "ledger.sqlite")
    if fresh:
        before = {}
    else:
        shutil.copyfile(source, db)
    result = CliRunner().invoke(cli, ["--db", db, *argv], env=env)
    left = sorted(os.listdir(folder))
    after = dump(db) if os.path.exists(db) else {}
    return result, problems(result, argv, env, before, after, left if fresh else [])


@pytest.fixture
def scratch(tmp_path):
    """A folder for the copies: in memory where the system has one (the examples write
    thousands of small files and would mostly wait for the disk), else tmp_path."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="grants-fuzz-", dir="/dev/shm"))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(invocation=invocations())
def test_fuzzed_arguments_never_crash_and_failures_change_nothing(prepared, scratch, monkeypatch, invocation):
    """Any mix of valid and hostile arguments to any command: no traceback, exit 0-3, one or
    two error lines on a failure, and a refused or malformed command changes no row (and
    on a new path leaves no file)."""
    monkeypatch.chdir(scratch)  # where a fuzzed relative --output or file name would land
    argv, env, fresh = invocation
    result, found = run(prepared, scratch, argv, env, fresh)
    assert not found, (argv, env, result.exit_code, result.stdout[-500:], result.stderr[-500:], found)
