"""write_all: every file or none, flushed before it is renamed, and the temporary files
of killed writers removed by the next write."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from digitwise.errors import UserError
from digitwise.io import outputs
from digitwise.io.outputs import write_all


def test_every_file_is_written_with_its_content(tmp_path):
    files = {tmp_path / "a.json": "{}\n", tmp_path / "deep/er/b.png": b"\x89PNG"}
    write_all(files)
    assert (tmp_path / "a.json").read_text() == "{}\n"
    assert (tmp_path / "deep/er/b.png").read_bytes() == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.json", "b.png", "deep", "er"]


def test_when_one_file_cannot_be_written_none_is_and_nothing_is_left(tmp_path):
    (tmp_path / "old.json").write_text("old\n")
    (tmp_path / "blocker").write_text("a file where a directory is needed\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*")}
    files = {
        tmp_path / "old.json": "new\n",
        tmp_path / "new/dirs/x.json": "x\n",
        tmp_path / "blocker/y.png": b"y",  # fails last: its directory cannot be made
    }
    with pytest.raises(UserError, match=r"blocker/y\.png: cannot write it"):
        write_all(files)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*")} == before  # no new dirs, no temps


def test_each_file_is_flushed_before_any_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1]
    )
    write_all({tmp_path / "a": "1", tmp_path / "b": "2"})
    # two files flushed, both renamed, then the directory flushed once
    assert events == ["fsync", "fsync", "replace", "replace", "fsync"]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid  # exited and reaped: no process has this number (for a while)


def test_the_leftovers_of_killed_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = tmp_path / f".m.json{outputs.STAGING_MARK}{_dead_pid()}-abc123.tmp"
    other_name = tmp_path / f".n.png{outputs.STAGING_MARK}{_dead_pid()}-x_9.tmp"
    live = tmp_path / f".m.json{outputs.STAGING_MARK}{os.getppid()}-def456.tmp"
    elsewhere = tmp_path / "sub" / f".m.json{outputs.STAGING_MARK}{_dead_pid()}-abc123.tmp"
    elsewhere.parent.mkdir()
    not_ours = [tmp_path / ".m.json.backup", tmp_path / f"m{outputs.STAGING_MARK}1-a.tmp"]
    for path in (dead, other_name, live, elsewhere, *not_ours):
        path.write_text("half")
    write_all({tmp_path / "m.json": "{}\n"})
    assert not dead.exists() and not other_name.exists()  # any name, in the directory written
    assert live.exists() and elsewhere.exists() and all(path.exists() for path in not_ours)


KILLED_BETWEEN_WRITE_AND_RENAME = """
import os, signal, sys
from digitwise.io.outputs import write_all

def killed(*_):  # the moment after every file is staged and flushed, before any rename
    os.kill(os.getpid(), signal.SIGKILL)

os.replace = killed
write_all({{sys.argv[1] + "/a.json": "new a", sys.argv[1] + "/b.json": "new b"}})
"""


def test_a_kill_between_write_and_rename_leaves_the_old_files_and_the_next_write_cleans_up(
    tmp_path,
):
    (tmp_path / "a.json").write_text("old a")
    script = textwrap.dedent(KILLED_BETWEEN_WRITE_AND_RENAME.format())
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False)
    assert result.returncode == -signal.SIGKILL
    left = sorted(p.name for p in tmp_path.iterdir() if outputs.STAGING_MARK in p.name)
    assert len(left) == 2 and all(name.endswith(".tmp") for name in left)
    assert (tmp_path / "a.json").read_text() == "old a" and not (tmp_path / "b.json").exists()

    write_all({tmp_path / "a.json": "a", tmp_path / "b.json": "b"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_a_destination_that_became_a_directory_stops_the_write_before_any_rename(tmp_path):
    (tmp_path / "b.json").mkdir()  # after the stage checked its destinations, say
    with pytest.raises(UserError, match=r"b\.json: cannot write it \(it is a directory\)"):
        write_all({tmp_path / "a.json": "a", tmp_path / "b.json": "b"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


def test_a_directory_another_writer_makes_meanwhile_is_used_and_kept(tmp_path, monkeypatch):
    shared = tmp_path / "eval"
    real_mkdir = type(shared).mkdir

    def racing_mkdir(self, *args, **kwargs):
        if self == shared:  # the other writer wins the race for this one
            real_mkdir(self)
            raise FileExistsError(17, "File exists", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(type(shared), "mkdir", racing_mkdir)
    write_all({shared / "m1" / "metrics.json": "{}\n"})
    assert (shared / "m1" / "metrics.json").read_text() == "{}\n"
    monkeypatch.undo()
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(UserError):  # a failure removes what this writer made, not the rest
        write_all({shared / "m2" / "a.json": "a", tmp_path / "blocker/b.json": "b"})
    assert sorted(p.name for p in shared.iterdir()) == ["m1"]
