import json

import pytest

from busmtl.io import atomic_dir, atomic_path, write_json


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
