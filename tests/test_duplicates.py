"""Near-duplicate detection and the grouped (leak-free) split.

Planted copies of phantom images (resized, re-encoded as JPEG, with a drawn caliper mark) must
join their original's cluster; different phantoms, even of similar layout, must not. A grouped
split must keep every cluster on one side of the test/train/validation boundaries and leave
out the images filed under both classes.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from busmtl.cli import main
from busmtl.data.duplicates import (
    correlations,
    find_duplicates,
    hamming,
    perceptual_hashes,
    read_groups,
    thumbnails,
)
from busmtl.data.phantoms import generate_phantoms
from busmtl.data.prepare import prepare_dataset
from busmtl.data.splits import load_splits, make_splits


def _phantom_images(n: int = 12, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        image = rng.normal(90, 20, (96, 128)).clip(0, 255).astype(np.uint8)
        cy, cx = rng.integers(25, 70), rng.integers(30, 100)
        cv2.ellipse(image, (int(cx), int(cy)), (int(rng.integers(10, 25)), int(rng.integers(8, 18))),
                    float(rng.uniform(0, 180)), 0, 360, 20, -1)
        image = cv2.GaussianBlur(image, (9, 9), 3)
        images.append(image)
    return images


def _resized(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, (image.shape[1] * 2 + 7, image.shape[0] * 2 + 5))


def _jpeg(image: np.ndarray, quality: int = 40) -> np.ndarray:
    _ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def _marked(image: np.ndarray) -> np.ndarray:
    out = image.copy()
    h, w = out.shape
    for x in range(w // 4, 3 * w // 4, 6):  # a dotted caliper line between two crosses
        out[h // 2, x] = 220
    for x in (w // 4, 3 * w // 4):
        cv2.drawMarker(out, (x, h // 2), 220, cv2.MARKER_CROSS, 5)
    cv2.putText(out, "L", (3, 10), cv2.FONT_HERSHEY_PLAIN, 0.6, 220, 1)  # a text mark
    return out


def test_a_thumbnail_correlation_is_pearsons_r():
    a = np.arange(64 * 64, dtype=np.float64).reshape(64, 64) % 17
    b = a * 3 + 5  # a linear transform: r = 1
    c = a.max() - a  # the negative: r = -1
    r = correlations(thumbnails([a.astype(np.uint8), b.astype(np.uint8), c.astype(np.uint8)]))
    assert r[0, 1] == pytest.approx(1.0, abs=1e-9)
    assert r[0, 2] == pytest.approx(-1.0, abs=1e-9)
    assert np.allclose(np.diag(r), 1.0)


def test_the_perceptual_hash_ignores_a_copy_and_tells_different_images_apart():
    images = _phantom_images(4)
    bits = perceptual_hashes([images[0], _jpeg(_resized(images[0])), images[1]])
    d = hamming(bits)
    assert d[0, 1] <= 4
    assert d[0, 2] > 10
    assert d[0, 0] == 0 and d[0, 2] == d[2, 0]


@pytest.mark.parametrize("copy", [_resized, _jpeg, _marked], ids=["resized", "jpeg", "marked"])
def test_a_planted_copy_joins_its_original_and_nothing_else(copy):
    images = _phantom_images(12)
    planted = [*images, copy(images[5])]
    ids = [f"img{i}" for i in range(len(planted))]
    table = find_duplicates(planted, ids, ["benign"] * len(planted))
    assert table.clusters() == [[5, 12]]
    assert table.best_match[12] == 5 and table.best_r[12] >= 0.92


def test_near_but_distinct_images_stay_apart():
    # the same layout (a dark ellipse on speckle) but other draws of lesion and speckle
    images = _phantom_images(30, seed=11)
    table = find_duplicates(images, [str(i) for i in range(30)], ["benign"] * 30)
    assert table.clusters() == []
    assert float(table.best_r.max()) < 0.92


def test_a_copy_under_the_other_class_is_a_cross_class_cluster(tmp_path):
    images = _phantom_images(6)
    planted = [*images, _marked(images[2])]
    classes = ["benign"] * 6 + ["malignant"]
    table = find_duplicates(planted, [f"c{i}" for i in range(7)], classes)
    assert table.cross_class() == [[2, 6]]
    assert table.summary()["cross_class_images"] == 2
    assert "c2 (benign) | c6 (malignant)" in table.format()
    path = table.write(tmp_path / "duplicates.csv")
    groups, crossing = read_groups(path, [f"c{i}" for i in range(7)])
    assert crossing == {"c2", "c6"}
    assert groups[2] == groups[6] and len(set(groups.tolist())) == 6


def test_a_threshold_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="threshold 1.5"):
        find_duplicates(_phantom_images(2), ["a", "b"], ["benign", "benign"], threshold=1.5)


@pytest.fixture(scope="module")
def planted_cache(tmp_path_factory, module_data_root):
    """60 phantoms plus copies: 8 same-class copies (some twice) and 2 filed under the other
    class, prepared at 32 px."""
    base = tmp_path_factory.mktemp("planted")
    raw = generate_phantoms(base / "raw", n=60, seed=4, size=96, progress=False)
    benign = sorted((raw / "benign").glob("benign (*).png"), key=lambda p: len(p.name))
    malignant = sorted((raw / "malignant").glob("malignant (*).png"), key=lambda p: len(p.name))
    plants = [(benign[i], "benign", _jpeg) for i in range(5)] + \
             [(malignant[i], "malignant", _marked) for i in range(3)] + \
             [(benign[0], "benign", _resized)] + \
             [(benign[7], "malignant", _marked), (malignant[6], "benign", _jpeg)]
    for k, (source, cls, transform) in enumerate(plants):
        image = cv2.imread(str(source), cv2.IMREAD_GRAYSCALE)
        mask = cv2.imread(str(source.with_name(source.stem + "_mask.png")), cv2.IMREAD_GRAYSCALE)
        copy = transform(image)
        mask = cv2.resize(mask, (copy.shape[1], copy.shape[0]), interpolation=cv2.INTER_NEAREST)
        name = f"{cls} ({900 + k})"
        cv2.imwrite(str(raw / cls / f"{name}.png"), copy)
        cv2.imwrite(str(raw / cls / f"{name}_mask.png"), mask)
    return prepare_dataset(raw, base / "prepared", size=32, progress=False)


def test_prepare_writes_the_duplicate_table(planted_cache):
    info = json.loads((planted_cache / "info.json").read_text())
    assert info["duplicates"]["cross_class_clusters"] == 2
    assert info["duplicates"]["clusters"] == 10  # 8 same-class copies (one twice) + 2 crossing
    rows = (planted_cache / "duplicates.csv").read_text().splitlines()
    assert rows[0].startswith("id,class,cluster,cluster_size,cross_class")
    assert len(rows) == 1 + 71


def test_the_grouped_split_keeps_every_cluster_on_one_side(planted_cache):
    path = make_splits(planted_cache, seed=0, folds=3, group="duplicates")
    assert path.name == "splits-grouped.json"
    splits = load_splits(path, planted_cache)
    groups, crossing = read_groups(planted_cache / "duplicates.csv",
                                   [line.split(",")[0] for line in
                                    (planted_cache / "index.csv").read_text().splitlines()[1:]])
    ids = [line.split(",")[0] for line in (planted_cache / "index.csv").read_text().splitlines()[1:]]
    group_of = dict(zip(ids, groups.tolist()))
    assert set(splits.excluded) == crossing and len(crossing) == 4
    test_groups = {group_of[i] for i in splits.test}
    for fold in splits.folds:
        train, val = {group_of[i] for i in fold.train}, {group_of[i] for i in fold.val}
        assert not test_groups & (train | val)
        assert not train & val
        assert not set(fold.train + fold.val) & crossing
    assert not set(splits.test) & crossing
    n = len(ids) - len(crossing)
    assert 0.12 * n <= len(splits.test) <= 0.28 * n


def test_data_split_group_duplicates_from_the_command_line(planted_cache, capsys):
    assert main(["data", "split", "--data-dir", str(planted_cache), "--folds", "3",
                 "--group", "duplicates"]) == 0
    out = capsys.readouterr().out
    assert "splits-grouped.json" in out and "left out (filed under both classes): 4" in out


def test_data_check_lists_the_cross_class_copies(planted_cache, capsys):
    raw = planted_cache.parent / "raw"
    assert main(["data", "check", "--data-dir", str(raw)]) == 0
    out = capsys.readouterr().out
    assert "filed under both classes: 2 clusters, 2 benign/malignant pairs" in out
    assert "benign (907) | malignant (909)" in out or "malignant (909)" in out
