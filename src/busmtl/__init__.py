"""busmtl: multi-task loss weighting for joint breast-ultrasound lesion segmentation and
classification (a reproducible companion to the ATDWA paper)."""

__version__ = "0.1.0"

#: Task order used everywhere in the package: index 0 is segmentation, index 1 classification.
TASKS: tuple[str, ...] = ("seg", "cls")
