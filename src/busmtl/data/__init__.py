"""Data: BUSI scanning and checking, synthetic ultrasound phantoms, the prepared cache, seeded
splits, the paper's augmentations and the PyTorch datasets.

One module per job:

* :mod:`~busmtl.data.errors` - :class:`DataError`, the one-line user-facing error.
* :mod:`~busmtl.data.busi` - scan and check a raw dataset in the BUSI layout, merge masks.
* :mod:`~busmtl.data.masks` - the mask-reading rule (value > 0) and suspicious masks.
* :mod:`~busmtl.data.outputs` - which ``--out`` folders prepare/phantoms may replace.
* :mod:`~busmtl.data.phantoms` - generate synthetic breast-ultrasound images in that layout.
* :mod:`~busmtl.data.prepare` - resize everything once into ``.npy`` arrays (the cache).
* :mod:`~busmtl.data.splits` - stratified held-out test set + stratified k folds.
* :mod:`~busmtl.data.augment` - the paper's six albumentations transforms.
* :mod:`~busmtl.data.dataset` - ``torch.utils.data.Dataset`` objects for train/val/test.
* :mod:`~busmtl.data.default` - :func:`ensure_dataset`: the cache a run should use.
* the command line is :mod:`busmtl.cli.data` (``busmtl data prepare | check | phantoms | split``).

Submodules are imported on demand (``from busmtl.data.dataset import make_datasets``) so that
``import busmtl.data`` stays cheap.
"""
