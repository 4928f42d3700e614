"""Crash safety: what a command leaves behind when it is cut off half-way."""

from __future__ import annotations


def test_an_export_cut_off_half_way_leaves_the_earlier_file(grants, tmp_path, monkeypatch):
    """An export that stops after some lines (here: a stored event that cannot be read back)
    leaves the file that was at --output as it was, and nothing beside it."""
    from commands import cli as cli_module
    from ledger.errors import Corrupt
    from tests.test_cli import define

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
