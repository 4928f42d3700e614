"""Crash safety: real `grants` processes killed with SIGKILL at random moments.

The moments: recording (`decide` with a three-year schedule, one atomic save of the
decision and three region-years; `spend`, the decision and the voucher index;
`allocate --table` to all 21 regions, the grant and 21 new region-years), `import` of a
few-thousand-event export into an empty ledger, `export --output` over an earlier
export, `rebuild`, and the catch-up of a first query on a ledger whose read models are
gone (as after an import). Each moment is first run once uninterrupted, timed, and
watched for the write transactions it holds (seen from outside: PostgreSQL, its session
has a transaction id; SQLite, it holds the file's write lock, in /proc/locks). A kill
aimed at a time comes after a random delay between the end of Python's start-up and the
end of that run; a kill aimed at a write (half of them, where the run showed one) waits
such a random delay, then for the next write transaction, then a random part of the
longest one seen, so the short writes of recording commands are hit too. Whether the
process held a write transaction open at the instant of the kill is noted.

After every kill, before anything repairs anything:

- nothing is half-recorded: a killed recording command left either all of the events
  its uninterrupted run records or none, and the same command typed again records the
  rest (or says "unchanged"); a killed import left an empty ledger or every event, with
  the source's digest, and typing it again completes it; a killed export left the file
  that was there before or the whole new one;
- `grants verify` exits 0;
- `balance`, `commitments` and `compliance` for "now" equal the fold of the stored
  events, and, with `audit`, equal themselves after `grants rebuild`;
- the next recording command works (exit 0).

On PostgreSQL the checks start once the server has ended the killed process's sessions
(found by their application name), so a COMMIT already sent when the kill came is
either in or out before the first look, never in between.

The suite kills once at each moment on each store, and a second time at the moments
with long writes (import, rebuild, catch-up): 10 kills per store, 20 with PostgreSQL.
The seed is printed, and is in every failure's message; set GRANTS_CRASH_SEED to
replay one (the delays and the order; the processes' own timing is not reproducible).
Many more kills: ``python bench/crash.py --kills 200``.
"""
from tests.scenarios.crashing import MOMENTS, SUITE, CrashRun, Store, crash_seed


def test_sigkill_at_random_moments_leaves_a_sound_ledger(store, tmp_path):
    """Ten SIGKILLs of real `grants` processes (recording, import, export, rebuild,
    catch-up): nothing half-recorded, verify passes, queries equal the fold and a rebuild,
    and the next command works without repair."""
    seed = crash_seed()
    print(f"crash test seed {seed} (GRANTS_CRASH_SEED={seed} replays it)")
    crashes = Store(store, tmp_path)
    try:
        run = CrashRun(crashes, seed, log=print)
        run.setup()
        for moment in run.rng.sample(SUITE, len(SUITE)):
            run.kill(moment)
        print(run.summary())
    finally:
        crashes.close()
    assert len(run.kills) == len(SUITE)
    assert {k["moment"] for k in run.kills} == set(MOMENTS)


def test_an_export_cut_off_half_way_leaves_the_earlier_file(grants, tmp_path, monkeypatch):
    """An export that stops after some lines (here: a stored event that cannot be read back)
    leaves the file that was at --output as it was, and nothing beside it."""
    from commands import transfer as cli_module
    from ledger.errors import Corrupt
    from tests.jamtland import define

    define(grants)
    output = tmp_path / "ledger.jsonl"
    output.write_text("the earlier export\n", encoding="utf-8")
    real = cli_module.export_lines

    def cut_off(entries):
        lines = real(entries)
        yield next(lines)
        raise Corrupt("the stored event at position 2 cannot be read back (test)")

    monkeypatch.setattr(cli_module, "export_lines", cut_off)
    grants("export", "--output", str(output), code=4)
    assert output.read_text(encoding="utf-8") == "the earlier export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ledger.jsonl")) == ["ledger.jsonl"]
    monkeypatch.setattr(cli_module, "export_lines", real)
    grants("export", "--output", str(output))
    assert len(output.read_text(encoding="utf-8").splitlines()) == grants.events()
