"""The run layer: what a run is (its resolved specification, :mod:`~busmtl.runs.spec`, and its
hash, :mod:`~busmtl.runs.hashing`), where its folder is (:mod:`~busmtl.runs.layout`), who may
write it (:mod:`~busmtl.runs.lock`), which runs are protected (:mod:`~busmtl.runs.protect`)
and how its files are read (:mod:`~busmtl.runs.files`).

Every module that reads or writes run folders goes through this package; none of it imports
torch at import time.
"""
