"""`train --out` onto an existing folder: refused unless --overwrite, and then only the model's own files are replaced
— trackscope never deletes a file it did not write, and never leaves a half-written model that loads."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from typer.testing import CliRunner

from trackscope.cli import app
from trackscope.errors import ModelError
from trackscope.models.persist import ModelWriter, allow_overwrite, check_model_output, load_model_dir

runner = CliRunner()


def _write(out, files: dict[str, str], **kw) -> None:
    writer = ModelWriter(out, {"task": "mood", "input": "table"}, **kw)
    for name, text in files.items():
        (writer.folder / name).parent.mkdir(parents=True, exist_ok=True)
        writer.add_text(name, text)
    writer.commit()


def _siblings(folder) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name != folder.name)


def test_non_empty_out_is_refused_without_overwrite(tmp_path):
    out = tmp_path / "m"
    _write(out, {"a.json": "1"})
    (out / "mynotes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ModelError, match="--overwrite") as exc:
        _write(out, {"a.json": "2"})
    assert exc.value.path == str(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _siblings(out) == []  # no temporary folder left beside it
    check_model_output(tmp_path / "empty-dir-is-fine")
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "empty", {"a.json": "1"})
    assert load_model_dir(tmp_path / "empty").meta["files"].keys() == {"a.json"}


def test_overwrite_replaces_only_the_models_own_files(tmp_path):
    out = tmp_path / "m"
    _write(out, {"a.json": "old a", "old_only.txt": "old", "sub/w.bin": "old w"})
    (out / "mynotes.txt").write_text("my notes")
    (out / "mine").mkdir()
    (out / "mine" / "plot.png").write_bytes(b"\x89PNG mine")
    (out / "sub" / "keep.txt").write_text("mine too")
    _write(out, {"a.json": "new a", "b.json": "new b"}, overwrite=True)
    assert (out / "mynotes.txt").read_text() == "my notes"
    assert (out / "mine" / "plot.png").read_bytes() == b"\x89PNG mine"
    assert (out / "sub" / "keep.txt").read_text() == "mine too"
    assert (out / "a.json").read_text() == "new a" and (out / "b.json").read_text() == "new b"
    assert not (out / "old_only.txt").exists() and not (out / "sub" / "w.bin").exists()  # the old model's, gone
    md = load_model_dir(out)  # verifies every hash
    assert set(md.meta["files"]) == {"a.json", "b.json"}
    assert _siblings(out) == []
    # Through the api's context (what `--overwrite` sets), without threading it through every task:
    with allow_overwrite():
        _write(out, {"a.json": "third"})
    assert (out / "a.json").read_text() == "third" and not (out / "b.json").exists()
    assert (out / "mynotes.txt").read_text() == "my notes"


def test_overwrite_is_refused_on_a_folder_that_is_not_a_model(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"jpeg")
    with pytest.raises(ModelError, match="not a trackscope model folder"):
        _write(out, {"a.json": "1"}, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["holiday.jpg"] and _siblings(out) == []
    # a model.json that lists files outside the folder must not make trackscope delete them
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    evil = tmp_path / "evil"
    _write(evil, {"a.json": "1"})
    meta = json.loads((evil / "model.json").read_text())
    meta["files"]["../victim.txt"] = "0" * 64
    (evil / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="outside the folder"):
        _write(evil, {"a.json": "2"}, overwrite=True)
    assert victim.read_text() == "precious"


def test_a_failed_overwrite_never_leaves_a_loadable_mixture(tmp_path, monkeypatch):
    out = tmp_path / "m"
    _write(out, {"a.json": "old a", "b.json": "old b"})
    (out / "mynotes.txt").write_text("mine")
    real = os.replace
    calls = {"n": 0}

    def crash_after_first(src, dst):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr("trackscope.models.persist.os.replace", crash_after_first)
    with pytest.raises(OSError, match="disk full"):
        _write(out, {"a.json": "new a", "b.json": "new b"}, overwrite=True)
    monkeypatch.setattr("trackscope.models.persist.os.replace", real)
    assert (out / "mynotes.txt").read_text() == "mine" and _siblings(out) == []
    with pytest.raises(ModelError, match="modified after saving"):  # old model.json + one new file: refused
        load_model_dir(out)
    _write(out, {"a.json": "new a", "b.json": "new b"}, overwrite=True)  # a rerun repairs it
    assert load_model_dir(out).meta["files"].keys() == {"a.json", "b.json"}
    # A failure while the files are still being written leaves the old folder exactly as it was.
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    writer = ModelWriter(out, {"task": "mood"}, overwrite=True)
    writer.add_text("a.json", "half")
    writer.abort()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and _siblings(out) == []


def _train(mood_csv, out, *extra):
    return runner.invoke(
        app,
        [
            "train",
            "mood",
            "--data",
            str(mood_csv),
            "--models",
            "logreg",
            "--scaler",
            "standard",
            "--out",
            str(out),
            *extra,
        ],
    )


def test_cli_train_refuses_then_overwrites_keeping_the_users_file(tmp_path, mood_csv, monkeypatch):
    out = tmp_path / "model"
    assert _train(mood_csv, out).exit_code == 0
    (out / "mynotes.txt").write_text("why I trained this")
    old_meta = (out / "model.json").read_bytes()
    res = _train(mood_csv, out, "--seed", "1")
    assert res.exit_code == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("trackscope: error:")]
    assert len(lines) == 1 and str(out) in lines[0] and "--overwrite" in lines[0]
    assert (out / "model.json").read_bytes() == old_meta

    # a crash while writing the report leaves the old model whole
    import trackscope.report.mood as mood_report

    def broken_report(m):
        raise RuntimeError("boom")

    monkeypatch.setattr(mood_report, "build_report", broken_report)
    assert _train(mood_csv, out, "--seed", "1", "--overwrite").exit_code == 1
    monkeypatch.undo()
    assert (out / "model.json").read_bytes() == old_meta and load_model_dir(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "moods.csv"]

    res = _train(mood_csv, out, "--seed", "1", "--overwrite")
    assert res.exit_code == 0, res.stderr
    assert (out / "mynotes.txt").read_text() == "why I trained this"
    md = load_model_dir(out)
    assert md.meta["created"] and (out / "model.json").read_bytes() != old_meta
    assert json.loads((out / "metrics.json").read_text())["parameters"]["seed"] == 1
    assert {"report.html", "model_card.md", "metrics.json", "pipeline.skops"} <= set(md.meta["files"])
    shutil.rmtree(out)


def test_overwrite_never_deletes_through_a_link_out_of_the_folder(tmp_path):
    out = tmp_path / "m"
    _write(out, {"a.json": "1", "sub/w.bin": "old"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "w.bin").write_text("someone else's")
    shutil.rmtree(out / "sub")
    (out / "sub").symlink_to(elsewhere, target_is_directory=True)
    _write(out, {"a.json": "2"}, overwrite=True)
    assert (elsewhere / "w.bin").read_text() == "someone else's"
    assert load_model_dir(out).meta["files"].keys() == {"a.json"}
