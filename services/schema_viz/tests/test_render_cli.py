"""The CI step: `python -m services.schema_viz.render [--check]` writes / checks docs/diagrams."""

from __future__ import annotations

import shutil

from services.schema_viz import render
from services.schema_viz.tests.support import FIXTURE, SNAPSHOTS

FILES = ["erd.dot", "erd.mmd", "events.dot", "events.mmd", "services.dot", "services.mmd"]


def test_writes_every_diagram_and_check_passes_afterwards(tmp_path, capsys):
    assert render.main(["--source-dir", str(FIXTURE), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == FILES
    for name in FILES:  # the same bytes the snapshot tests pin
        assert (tmp_path / name).read_bytes() == (SNAPSHOTS / name).read_bytes(), name
    assert "wrote 6 of 6 diagrams" in capsys.readouterr().out
    assert render.main(["--check", "--source-dir", str(FIXTURE), "--out", str(tmp_path)]) == 0
    assert render.main(["--source-dir", str(FIXTURE), "--out", str(tmp_path)]) == 0
    assert "wrote 0 of 6 diagrams" in capsys.readouterr().out


def test_check_fails_on_a_stale_or_missing_file_and_writes_nothing(tmp_path, capsys):
    assert render.main(["--source-dir", str(FIXTURE), "--out", str(tmp_path)]) == 0
    (tmp_path / "events.mmd").write_text("%% edited by hand\n")
    (tmp_path / "erd.dot").unlink()
    capsys.readouterr()
    assert render.main(["--check", "--source-dir", str(FIXTURE), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "stale diagrams" in err and "erd.dot, events.mmd" in err
    assert (tmp_path / "events.mmd").read_text() == "%% edited by hand\n" and not (tmp_path / "erd.dot").exists()


def test_unsupported_sql_exits_2_naming_the_file(tmp_path, capsys):
    source = tmp_path / "src"
    shutil.copytree(FIXTURE, source)
    (source / "migrations" / "notifier").mkdir()
    (source / "migrations" / "notifier" / "0001_view.sql").write_text("CREATE TABLE t (a int);\nCREATE VIEW v AS SELECT 1;\n")
    assert render.main(["--source-dir", str(source), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "service notifier: 0001_view.sql:2: unsupported statement CREATE VIEW" in err
    assert not (tmp_path / "out").exists()


def test_the_live_repository_renders_with_complete_coverage(tmp_path, capsys):
    assert render.main(["--check", "--out", str(tmp_path)]) == 1  # nothing committed there yet
    assert render.main(["--out", str(tmp_path)]) == 0            # 0: coverage is complete
    assert render.main(["--check", "--out", str(tmp_path)]) == 0
    assert "coverage:" not in capsys.readouterr().err
