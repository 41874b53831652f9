"""Synthetic breast-ultrasound phantoms in the BUSI layout: the dataset that needs no download.

Each image is built in four steps (all vectorised numpy/OpenCV on a ``size x size`` grid,
depth ``y`` and lateral position ``x`` in [0, 1]):

1. **Tissue echogenicity** ``E(x, y)``: skin (bright band), subcutaneous fat (dark, lobulated),
   fibroglandular tissue (brighter, horizontally streaked texture) and pectoral muscle
   (striated), separated by wavy boundaries with bright fascia lines.
2. **A hypoechoic lesion** with a soft edge. Its boundary in polar form around the centre is
   ``r(t) = 1 + sum_k a_k cos(k t + phi_k) + sum_j h_j exp(kappa (cos(t - t_j) - 1))``
   on an ellipse with semi-axes ``(w, h)``: low harmonics only for a smooth oval, high
   harmonics and spikes (spiculation) for an irregular one.
3. **Posterior acoustic features**: below the lesion the echoes are multiplied by
   ``1 + g * S(x, y)`` where ``S`` is the lesion's cumulative thickness along depth (smoothed
   laterally); ``g > 0`` is enhancement, ``g < 0`` shadowing.
4. **Speckle and display**: the echogenicity times the envelope of a complex Gaussian field
   blurred by an anisotropic point-spread function (Rayleigh-distributed amplitude), depth
   attenuation, log compression to 8 bits.

Class signal with overlap: each case draws a latent malignancy score ``m`` from Beta(2, 5)
(benign) or Beta(5, 2) (malignant). Aspect ratio (benign wider-than-tall, malignant
taller-than-wide), margin irregularity and spiculation, edge blur, internal heterogeneity and
the posterior gain ``g`` (enhancement for benign, shadowing for malignant) are functions of
``m`` plus noise, so typical cases look like their class and some look like the other.
One case in three is malignant (BUSI's ratio is 437:210), a few images hold two lesions
(``_mask.png`` + ``_mask_1.png``), and everything is a function of ``(seed, index)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from busmtl.data.busi import _progress
from busmtl.data.errors import DataError
from busmtl.data.outputs import check_output
from busmtl.io import atomic_dir, atomic_path, write_json

#: Fraction of malignant cases (BUSI: 210 of 647).
MALIGNANT_FRACTION = 1 / 3
#: Fraction of images with a second lesion, written as ``_mask_1.png``.
TWO_LESION_FRACTION = 0.06
#: The file that marks a folder as generated phantoms (``written_by``, ``n``, ``seed``, ``size``).
MARKER_FILE = "phantoms.json"
WRITTEN_BY = "busmtl data phantoms"


@dataclass
class LesionParams:
    """Geometry and appearance of one lesion (lengths as fractions of the image side)."""

    cx: float
    cy: float
    width: float  # horizontal semi-axis
    height: float  # vertical semi-axis
    angle: float  # radians
    harmonics: np.ndarray  # (K, 3): k, amplitude, phase
    spikes: np.ndarray  # (J, 3): angle, height, kappa
    edge: float  # soft-edge width (in units of the normalised radius)
    echo: float  # mean echogenicity inside
    heterogeneity: float  # amplitude of internal texture
    halo: float  # echogenic rim strength
    posterior: float  # g: > 0 enhancement, < 0 shadowing


def _smooth_field(rng: np.random.Generator, size: int, sx: float, sy: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian random field blurred by sigmas ``(sx, sy)`` in pixels."""
    pad = int(np.ceil(3 * max(sx, sy)))  # blur a larger canvas: no reflection artefacts at edges
    field = rng.standard_normal((size + 2 * pad, size + 2 * pad)).astype(np.float32)
    field = cv2.GaussianBlur(field, (0, 0), sigmaX=max(sx, 0.3), sigmaY=max(sy, 0.3))
    field = field[pad : pad + size, pad : pad + size]
    field -= field.mean()
    return field / (field.std() + 1e-8)


def _smooth_curve(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Unit-std smooth random function of ``x`` (a layer boundary's wiggle)."""
    return _smooth_field(rng, size, sigma, 0.3)[0]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _tissue(rng: np.random.Generator, size: int, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Echogenicity of the layered breast background, roughly in [0, 1]."""
    s = size / 256.0
    skin = 0.035 + 0.01 * rng.random() + 0.006 * _smooth_curve(rng, size, 40 * s)
    fat_end = 0.18 + 0.12 * rng.random() + 0.04 * _smooth_curve(rng, size, 30 * s)
    gland_end = 0.72 + 0.12 * rng.random() + 0.05 * _smooth_curve(rng, size, 35 * s)
    soft = 0.012
    in_skin = _sigmoid((skin - y) / soft)
    in_fat = _sigmoid((y - skin) / soft) * _sigmoid((fat_end - y) / soft)
    in_gland = _sigmoid((y - fat_end) / soft) * _sigmoid((gland_end - y) / soft)
    in_muscle = _sigmoid((y - gland_end) / soft)

    lobules = _smooth_field(rng, size, 9 * s, 6 * s)
    fat = 0.16 + 0.07 * np.tanh(1.5 * lobules)
    streaks = _smooth_field(rng, size, 14 * s, 2.5 * s)
    blobs = _smooth_field(rng, size, 20 * s, 12 * s)
    gland = 0.6 + 0.15 * streaks + 0.12 * blobs
    phase = rng.random() * 2 * np.pi
    tilt = (rng.random() - 0.5) * 0.3
    muscle = 0.3 + 0.15 * np.sin(2 * np.pi * 22 * (y + tilt * x) + phase) + 0.05 * streaks
    echo = 0.85 * in_skin + fat * in_fat + gland * in_gland + muscle * in_muscle
    for boundary in (fat_end, gland_end):  # bright fascia lines
        echo = echo + 0.25 * np.exp(-(((y - boundary) / 0.008) ** 2))
    return np.clip(echo, 0.02, 1.2).astype(np.float32)


def _draw_lesion_params(
    rng: np.random.Generator, malignant: bool, scale: float = 1.0, cx: float | None = None
) -> LesionParams:
    """Lesion parameters from the latent malignancy score ``m`` (see the module docstring)."""
    m = rng.beta(5, 2) if malignant else rng.beta(2, 5)
    radius = scale * (0.07 + 0.09 * rng.random())
    aspect = np.clip(1.9 - 1.25 * m + 0.15 * rng.standard_normal(), 0.6, 2.4)  # width / height
    width, height = radius * np.sqrt(aspect), radius / np.sqrt(aspect)
    n_harm = 3 + int(9 * m * rng.random())
    ks = rng.integers(2, 3 + int(10 * m), size=n_harm)
    amps = (0.015 + 0.09 * m**1.5 * rng.random(n_harm)) / np.sqrt(ks / 2.0)
    harmonics = np.stack([ks, amps, rng.random(n_harm) * 2 * np.pi], axis=1)
    n_spikes = round(max(0.0, m - 0.45) * 22 * rng.random())
    spikes = np.stack(
        [
            rng.random(n_spikes) * 2 * np.pi,
            0.15 + 0.45 * rng.random(n_spikes),
            60 + 140 * rng.random(n_spikes),
        ],
        axis=1,
    )
    return LesionParams(
        cx=cx if cx is not None else 0.25 + 0.5 * rng.random(),
        cy=0.38 + 0.25 * rng.random(),
        width=float(width),
        height=float(height),
        angle=float(rng.normal(0, 0.12 + 0.35 * m)),
        harmonics=harmonics,
        spikes=spikes,
        edge=float(0.02 + 0.1 * m * rng.random()),
        echo=float(0.012 + 0.035 * rng.random() + 0.03 * m),
        heterogeneity=float(0.05 + 0.55 * m * rng.random()),
        halo=float(max(0.0, m - 0.5) * 0.9 * rng.random()),
        posterior=float(np.clip(1.0 - 2.0 * m + 0.3 * rng.standard_normal(), -0.85, 1.5)),
    )


def _lesion_shape(p: LesionParams, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance-like coordinate ``d = r(t) - rho`` (> 0 inside) and the angle ``t``."""
    dx, dy = x - p.cx, y - p.cy
    c, s = np.cos(p.angle), np.sin(p.angle)
    u, v = (c * dx + s * dy) / p.width, (-s * dx + c * dy) / p.height
    rho = np.sqrt(u * u + v * v)
    t = np.arctan2(v, u)
    r = np.ones_like(t)
    for k, amp, phase in p.harmonics:
        r += amp * np.cos(k * t + phase)
    for angle, height, kappa in p.spikes:
        r += height * np.exp(kappa * (np.cos(t - angle) - 1.0))
    return (r - rho).astype(np.float32), t


def _phantom(
    rng: np.random.Generator, size: int, malignant: bool, two_lesions: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One image ``(size, size)`` uint8 and its lesion masks (one or two) in {0, 1}."""
    s = size / 256.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / np.float32(size)
    echo = _tissue(rng, size, y, x)
    if two_lesions:
        side = rng.random() < 0.5
        lesions = [
            _draw_lesion_params(rng, malignant, 0.75, cx=0.3 if side else 0.7),
            _draw_lesion_params(rng, malignant, 0.55, cx=0.72 if side else 0.28),
        ]
    else:
        lesions = [_draw_lesion_params(rng, malignant)]
    masks = []
    gain = np.ones_like(echo)
    for p in lesions:
        d, _ = _lesion_shape(p, y, x)
        mask = (d > 0).astype(np.uint8)
        if not mask.any():  # degenerate draw: keep at least the centre pixel
            mask[int(p.cy * size), int(p.cx * size)] = 1
        masks.append(mask)
        inside = _sigmoid(d / max(p.edge, 0.01))
        texture = _smooth_field(rng, size, 3 * s, 3 * s)
        lesion_echo = np.clip(p.echo * (1 + p.heterogeneity * 1.6 * texture), 0.01, None)
        halo = p.halo * np.exp(-(((d + 0.12) / 0.07) ** 2)) * (1 - inside)
        echo = echo * (1 - inside) + lesion_echo * inside + 0.35 * halo
        # posterior feature: cumulative lesion thickness along depth, laterally smoothed
        depth_sum = np.cumsum(inside, axis=0) / (2 * p.height * size + 1e-6)
        column = cv2.GaussianBlur(np.clip(depth_sum, 0, 1), (0, 0), sigmaX=3 * s + 0.5, sigmaY=0.5)
        fade = np.exp(-np.clip(y - p.cy, 0, None) / 0.45)
        gain *= 1 + p.posterior * column * (1 - inside) * fade
    echo = echo * np.clip(gain, 0.05, None)

    # speckle: envelope of a complex Gaussian field filtered by an anisotropic PSF
    sx, sy = max(2.0 * s, 0.5), max(1.0 * s, 0.35)
    re = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), sx, sigmaY=sy)
    im = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), sx, sigmaY=sy)
    envelope = np.sqrt(re * re + im * im)
    envelope /= envelope.mean() + 1e-8
    attenuation = np.exp(-(0.5 + 0.6 * rng.random()) * y) * (0.85 + 0.15 * np.minimum(y / 0.05, 1))
    intensity = echo * envelope * attenuation
    # log compression: 20 log10(I / I_ref) dB shown over a dynamic range of DR dB
    dynamic_range = 38.0 + 10.0 * rng.random()
    reference = 1.1 * (0.85 + 0.3 * rng.random())
    decibels = 20.0 * np.log10(intensity / reference + 1e-5)
    display = np.clip(1.0 + decibels / dynamic_range, 0, 1)
    return np.round(255 * display).astype(np.uint8), masks


def generate_phantoms(
    out: str | Path, n: int = 240, seed: int = 0, size: int = 256, progress: bool | None = None,
    force: bool = False,
) -> Path:
    """Write ``n`` phantoms in BUSI's layout and naming to ``out`` (atomically, whole folder).

    ``benign/benign (i).png`` + ``benign (i)_mask.png`` (+ ``_mask_1.png`` for two lesions),
    likewise under ``malignant/``; numbering starts at 1 per class; ``phantoms.json`` marks the
    folder as this function's, which alone it replaces without ``force``
    (:func:`busmtl.data.outputs.check_output`). Identical for identical ``(n, seed, size)``.
    """
    n, size = int(n), int(size)
    if n < 2:
        raise DataError(f"--n {n} is too small: generate at least 2 phantoms (e.g. 240)")
    if size < 16:
        raise DataError(f"--size {size} is too small: use at least 16 px (e.g. 256)")
    out = check_output(out, command=WRITTEN_BY, marker=MARKER_FILE,
                       expected=("benign", "malignant", MARKER_FILE), force=force)
    n_malignant = max(1, round(n * MALIGNANT_FRACTION))
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED])).permutation(n)
    malignant = np.zeros(n, dtype=bool)
    malignant[order[:n_malignant]] = True
    numbers = {"benign": 0, "malignant": 0}
    with atomic_dir(out) as tmp:
        for cls in numbers:
            (tmp / cls).mkdir()
        for i in _progress(range(n), "phantoms", progress):
            rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
            cls = "malignant" if malignant[i] else "benign"
            numbers[cls] += 1
            two = bool(rng.random() < TWO_LESION_FRACTION)
            image, masks = _phantom(rng, size, bool(malignant[i]), two)
            stem = tmp / cls / f"{cls} ({numbers[cls]})"
            _write_png(stem.with_name(stem.name + ".png"), image)
            for k, mask in enumerate(masks):
                suffix = "_mask.png" if k == 0 else f"_mask_{k}.png"
                _write_png(stem.with_name(stem.name + suffix), mask * np.uint8(255))
        write_json(tmp / MARKER_FILE, {"written_by": WRITTEN_BY, "n": n, "seed": int(seed),
                                       "size": size})
    return out


def _write_png(path: Path, array: np.ndarray) -> None:
    if not cv2.imwrite(str(path), array):
        raise OSError(f"could not write {path}")


def save_preview(data_dir: str | Path, path: str | Path, per_class: int = 6) -> Path:
    """A PNG grid: ``per_class`` benign then malignant images of a raw dataset, with the mask
    outline in colour (green benign, red malignant)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from busmtl.data.busi import load_case, scan_dataset

    target = Path(path).expanduser()
    if target.is_dir():
        raise DataError(f"--out {target} is a folder: give a PNG file name such as "
                        f"{target / 'preview.png'}")
    if Path(data_dir).resolve() in target.resolve().parents:
        raise DataError(f"--out {target} is inside the dataset {data_dir}: write the preview "
                        "outside it")
    cases = scan_dataset(data_dir)
    chosen = [c for cls in ("benign", "malignant") for c in [c for c in cases if c.cls == cls][:per_class]]
    if not chosen:
        raise DataError(f"no cases in {data_dir} to preview")
    cols = per_class
    rows = int(np.ceil(len(chosen) / cols)) * 2
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for j, case in enumerate(chosen):
        image, mask = load_case(case)
        r, c = 2 * (j // cols), j % cols
        axes[r, c].imshow(image, cmap="gray", vmin=0, vmax=255)
        axes[r, c].set_title(case.id, fontsize=8)
        axes[r + 1, c].imshow(image, cmap="gray", vmin=0, vmax=255)
        axes[r + 1, c].contour(mask, levels=[0.5], colors="lime" if case.label == 0 else "red",
                               linewidths=0.8)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return target
