import json
import os
import stat

import pytest

from busmtl.io import atomic_dir, atomic_path, current_umask, write_json


def test_write_json_is_complete_and_leaves_no_temporary(tmp_path):
    path = write_json(tmp_path / "a" / "x.json", {"v": 1})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_atomic_dir_replaces_whole_or_nothing(tmp_path):
    out = tmp_path / "cache"
    with atomic_dir(out) as tmp:
        (tmp / "a").write_text("1")
    assert (out / "a").read_text() == "1"
    with pytest.raises(ValueError), atomic_dir(out) as tmp:
        (tmp / "b").write_text("2")
        raise ValueError("bad input")
    assert sorted(p.name for p in out.iterdir()) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_outputs_get_the_users_umask_not_tempfiles_private_modes(tmp_path, umask):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        written = write_json(tmp_path / "x.json", {"v": 1})
        with atomic_path(tmp_path / "y.npy") as tmp:
            tmp.write_bytes(b"data")
        with atomic_dir(tmp_path / "cache") as tmp:
            (tmp / "a.txt").write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "y.npy").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((tmp_path / "cache" / "a.txt").stat().st_mode) == 0o666 & ~umask


def test_replacing_a_folder_touches_nothing_beside_it(tmp_path):
    out = tmp_path / "cache"
    keep = tmp_path / ".cache.old"  # a name the old folder used to be moved to
    keep.mkdir()
    (keep / "mine.txt").write_text("keep me")
    for value in ("1", "2"):
        with atomic_dir(out) as tmp:
            (tmp / "a").write_text(value)
    assert (out / "a").read_text() == "2"
    assert (keep / "mine.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cache.old", "cache"]
