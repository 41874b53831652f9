"""The run layer: where a run's folder is (:mod:`~busmtl.runs.layout`), who may write it
(:mod:`~busmtl.runs.lock`) and which runs are protected (:mod:`~busmtl.runs.protect`).

Every module that reads or writes run folders goes through this package; none of it imports
torch.
"""
