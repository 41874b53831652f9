"""Turning run folders into what readers see: per-run plots (:mod:`.run_plots`), the aggregate
over methods and folds (:mod:`.aggregate`), tables (:mod:`.tables`), figures (:mod:`.figures`),
paired statistics (:mod:`.stats`), the primary paper's values (:mod:`.paper_values`) and the
book build (:mod:`.book`)."""
