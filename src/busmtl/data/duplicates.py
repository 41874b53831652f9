"""Near-duplicate images: the same ultrasound frame filed more than once.

BUSI holds many such frames (some with calipers or a text mark added), and a few are filed
under both classes. A split by image then puts copies of a test image into the training set
and the test score rewards memory. This module finds the copies and groups them into clusters
that a grouped split (:func:`busmtl.data.splits.make_splits` with ``group="duplicates"``)
keeps on one side of every boundary.

The measure (declared in the book's data chapter):

1. every image is reduced to a ``THUMB x THUMB`` grey thumbnail (area averaging), standardised
   to mean 0 and standard deviation 1;
2. the similarity of two images is the Pearson correlation of their thumbnails,
   ``r = <a, b> / THUMB^2``; at this resolution speckle averages out and what remains is the
   frame's layout, so a re-encoded, resized or lightly marked copy keeps ``r`` near 1 while two
   different lesions rarely exceed 0.9;
3. a 64-bit perceptual hash (DCT of a 32 x 32 thumbnail, the 8 x 8 lowest frequencies against
   their median) is computed as a second, independent measure and reported for every pair;
4. images with ``r >= threshold`` (default :data:`DEFAULT_THRESHOLD` = 0.92) are linked, and the
   clusters are the connected components of those links (so a chain of copies is one cluster).

A cluster whose images carry different labels is *cross-class*: one of its labels is wrong and
nothing in the data says which. The split rule (:mod:`busmtl.data.splits`) removes such
clusters from training and evaluation alike.

``duplicates.csv`` (written into a prepared cache by ``busmtl data prepare``)::

    id, class, cluster, cluster_size, cross_class, best_match, best_r, best_hamming

``cluster`` is -1 for an image with no near-duplicate; ``best_match`` is its most similar
other image (whatever the threshold), with that pair's correlation and hash distance.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.fft import dctn
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from busmtl.io import atomic_path

#: Side of the thumbnails whose correlation decides (measured on BUSI: see the data chapter).
THUMB: int = 32
#: Correlation at and above which two images count as copies. Measured on BUSI: pairs above
#: 0.95 are the same frame (some with calipers or a text mark); pairs between 0.92 and 0.95 are
#: still the same lesion (the same frame re-marked, or the next frame of the same scan), which
#: leaks just as much; below ~0.92 different lesions start to link (at 0.85 one chain holds
#: 185 images).
DEFAULT_THRESHOLD: float = 0.92
#: File of the duplicate table inside a prepared cache.
DUPLICATES_FILE: str = "duplicates.csv"
COLUMNS: tuple[str, ...] = ("id", "class", "cluster", "cluster_size", "cross_class",
                            "best_match", "best_r", "best_hamming")


def thumbnails(images: Sequence[np.ndarray], size: int = THUMB) -> np.ndarray:
    """``(N, size*size)`` float64: each grey image area-resized and standardised (a flat image
    gives zeros, which correlate with nothing)."""
    out = np.zeros((len(images), size * size), dtype=np.float64)
    for i, image in enumerate(images):
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        small = cv2.resize(grey.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
        flat = small.reshape(-1).astype(np.float64)
        sd = flat.std()
        out[i] = (flat - flat.mean()) / sd if sd > 0 else 0.0
    return out


def correlations(thumbs: np.ndarray) -> np.ndarray:
    """``(N, N)`` Pearson correlations of standardised thumbnails (diagonal 1)."""
    return thumbs @ thumbs.T / thumbs.shape[1]


def perceptual_hashes(images: Sequence[np.ndarray]) -> np.ndarray:
    """``(N, 64)`` bool: the DCT hash of each image (the 8 x 8 lowest frequencies of a 32 x 32
    thumbnail's 2-D DCT, each compared with their median)."""
    thumbs = thumbnails(images, size=32).reshape(-1, 32, 32)
    bits = np.zeros((len(thumbs), 64), dtype=bool)
    for i, thumb in enumerate(thumbs):
        low = dctn(thumb, norm="ortho")[:8, :8].reshape(-1)
        bits[i] = low > np.median(low)
    return bits


def hamming(bits: np.ndarray) -> np.ndarray:
    """``(N, N)`` number of differing hash bits."""
    b = bits.astype(np.int32)
    return b @ (1 - b).T + (1 - b) @ b.T


@dataclass
class DuplicateTable:
    """The clusters of one dataset (:func:`find_duplicates`)."""

    ids: list[str]
    classes: list[str]
    cluster: np.ndarray  # (N,) int: cluster number, -1 for an image without a copy
    best_match: np.ndarray  # (N,) int: index of the most similar other image
    best_r: np.ndarray  # (N,) float
    best_hamming: np.ndarray  # (N,) int
    threshold: float

    def clusters(self) -> list[list[int]]:
        """Indices of each cluster (two or more images), in cluster order."""
        found = sorted({int(c) for c in self.cluster if c >= 0})
        return [np.flatnonzero(self.cluster == c).tolist() for c in found]

    def cross_class(self) -> list[list[int]]:
        """The clusters whose images carry more than one label."""
        return [c for c in self.clusters() if len({self.classes[i] for i in c}) > 1]

    def groups(self) -> np.ndarray:
        """``(N,)`` int group of every image for a grouped split: its cluster, or a group of its
        own."""
        groups = self.cluster.copy()
        alone = np.flatnonzero(groups < 0)
        groups[alone] = groups.max(initial=-1) + 1 + np.arange(len(alone))
        return groups

    def summary(self) -> dict[str, int]:
        clusters = self.clusters()
        return {"images": len(self.ids), "clusters": len(clusters),
                "images_in_clusters": int(sum(len(c) for c in clusters)),
                "cross_class_clusters": len(self.cross_class()),
                "cross_class_images": int(sum(len(c) for c in self.cross_class()))}

    def format(self, limit: int = 20) -> str:
        """Counts, the cross-class clusters by name and the largest clusters, for a terminal."""
        s = self.summary()
        lines = [(f"near-duplicates ({THUMB}x{THUMB} correlation >= {self.threshold:g}): {s['clusters']} "
                 f"clusters holding {s['images_in_clusters']} of {s['images']} images; "
                 f"{s['cross_class_clusters']} clusters ({s['cross_class_images']} images) are "
                 "filed under more than one class")]
        for c in self.cross_class():
            lines.append("  cross-class: " + " | ".join(self._name(i) for i in c))
        others = sorted((c for c in self.clusters() if c not in self.cross_class()),
                        key=len, reverse=True)
        for c in others[:limit]:
            lines.append("  cluster: " + " | ".join(self._name(i) for i in c))
        if len(others) > limit:
            lines.append(f"  ... and {len(others) - limit} more (all in {DUPLICATES_FILE})")
        return "\n".join(lines)

    def _name(self, i: int) -> str:
        """The image's id, with its class when the id does not already say it."""
        if self.ids[i].startswith(self.classes[i]):
            return self.ids[i]
        return f"{self.ids[i]} ({self.classes[i]})"

    def write(self, path: str | Path) -> Path:
        """``duplicates.csv`` (columns :data:`COLUMNS`), atomically."""
        sizes = {c: int((self.cluster == c).sum()) for c in set(self.cluster.tolist()) if c >= 0}
        crossing = {self.cluster[c[0]] for c in self.cross_class()}
        with atomic_path(Path(path)) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            for i, name in enumerate(self.ids):
                c = int(self.cluster[i])
                writer.writerow([name, self.classes[i], c, sizes.get(c, 1),
                                 int(c in crossing), self.ids[int(self.best_match[i])],
                                 f"{self.best_r[i]:.5f}", int(self.best_hamming[i])])
        return Path(path)


def find_duplicates(images: Sequence[np.ndarray], ids: Sequence[str], classes: Sequence[str],
                    threshold: float = DEFAULT_THRESHOLD) -> DuplicateTable:
    """Cluster ``images`` by thumbnail correlation (module docstring). ``ValueError`` for a
    threshold outside (0, 1]."""
    if not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"duplicate threshold {threshold} must be in (0, 1], e.g. "
                         f"{DEFAULT_THRESHOLD}")
    n = len(images)
    if n != len(ids) or n != len(classes):
        raise ValueError("images, ids and classes must have the same length")
    if n < 2:
        return DuplicateTable(list(ids), list(classes), np.full(n, -1), np.zeros(n, int),
                              np.zeros(n), np.zeros(n, int), float(threshold))
    r = correlations(thumbnails(images))
    np.fill_diagonal(r, -np.inf)
    best = r.argmax(axis=1)
    best_r = r[np.arange(n), best]
    dist = hamming(perceptual_hashes(images))
    linked = np.argwhere(np.triu(r >= threshold, k=1))
    graph = coo_matrix((np.ones(len(linked)), (linked[:, 0], linked[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    cluster = np.full(n, -1)
    sizes = np.bincount(component)
    number = 0
    for comp in np.unique(component[np.argsort(component, kind="stable")]):
        if sizes[comp] > 1:
            cluster[component == comp] = number
            number += 1
    return DuplicateTable(list(ids), list(classes), cluster, best, best_r,
                          dist[np.arange(n), best], float(threshold))


def read_groups(path: str | Path, ids: Sequence[str]) -> tuple[np.ndarray, set[str]]:
    """From ``duplicates.csv``: the group of every id in ``ids`` (its cluster, or a group of its
    own) and the ids of cross-class clusters. ``ValueError`` when the file misses an id."""
    rows = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows[row["id"]] = row
    missing = [i for i in ids if i not in rows]
    if missing:
        raise ValueError(f"{path} does not list {missing[0]!r} ({len(missing)} ids missing): "
                         "run `busmtl data prepare` again to rebuild it")
    cluster = np.array([int(rows[i]["cluster"]) for i in ids])
    alone = np.flatnonzero(cluster < 0)
    cluster[alone] = cluster.max(initial=-1) + 1 + np.arange(len(alone))
    crossing = {i for i in ids if rows[i]["cross_class"] in ("1", "True", "true")}
    return cluster, crossing
