"""busmtl: multi-task loss weighting for joint breast-ultrasound lesion segmentation and
classification (a reproducible companion to the ATDWA paper)."""

__version__ = "0.1.0"

#: Task order used everywhere in the package: index 0 is segmentation, index 1 classification.
TASKS: tuple[str, ...] = ("seg", "cls")

import warnings as _warnings

# Libraries that busmtl imports (huggingface_hub, through segmentation-models-pytorch) import
# ``tqdm.auto``, which warns inside a Jupyter kernel when ipywidgets is absent. busmtl draws no
# widget progress bars in notebooks (``progress=False``), so the warning would only clutter every
# executed run notebook; this filter silences that one message and nothing else.
_warnings.filterwarnings("ignore", message="IProgress not found")
