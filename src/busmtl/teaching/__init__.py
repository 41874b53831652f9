"""Teaching layer: the toy two-task problem (``toy``) and the weighting lab's self-checks and
student notebook (``lab``)."""
