"""Orchestration layer: many runs at once and the checks over them.

``sweep`` plans and resumes a profile's runs (``plan`` holds one planned run), ``executors``
execute them (local processes, SLURM), ``worker`` is the process that runs one notebook,
``status`` reads a sweep's state, ``reproduce`` prints the commands that re-make one run and
``drift`` checks that committed runs are still what the code produces.
"""
