"""``busmtl drift``: are the committed runs still what the code and the profiles produce?

Always runs the settings check (no training: every committed run's recorded settings against
its profile today); with ``--busi DIR`` also the training check (the runs of
:data:`busmtl.orchestration.drift.DRIFT_RUNS` re-trained for their first epochs at their
recorded instruction-set level, two at a time). Exit 0 when nothing drifted, 1 when something
did, 2 for bad input.
"""

from __future__ import annotations

import argparse
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from busmtl.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "drift", help="check that the committed runs still match the code and the profiles",
        description="Settings check of every committed run; with --busi, re-train the first "
        "epochs of a few committed runs at their recorded CPU level and compare.")
    p.add_argument("--busi", default=None, help="BUSI folder: also run the training check")
    p.add_argument("--jobs", type=int, default=2, help="re-trainings at once (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from busmtl.orchestration import drift
    from busmtl.runs import marker

    stale = drift.settings_drift()
    runs = drift.committed_runs()
    print(f"settings: {len(runs) - len(stale)} of {len(runs)} committed runs match their profile")
    if stale:
        print(drift.format_settings_drift(stale))
    if args.busi is None:
        return 1 if stale else 0
    busi = Path(args.busi)
    if not ((busi / "benign").is_dir() and (busi / "malignant").is_dir()):
        raise UserError(f"--busi {busi} holds no benign/ and malignant/ folders: give the BUSI "
                        "folder the runs were made from")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="busmtl-drift-") as tmp:
        jobs = {}
        for name, epochs in drift.DRIFT_RUNS.items():
            run_dir = drift.runs_root() / name
            if not marker.exists(run_dir):
                print(f"skipped {name}: not committed")
                continue
            ok, why = drift.can_retrain(run_dir)
            expected, source = drift.expected_history(name, run_dir, epochs) if ok else (None, why)
            if expected is None:
                print(f"skipped {name}: {source}")
                continue
            prepared = drift.prepare_like(run_dir, busi, Path(tmp))
            jobs[name] = (run_dir, prepared, epochs, expected, source)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {n: pool.submit(drift.check_drift, r, p, Path(tmp), e, x)
                       for n, (r, p, e, x, _) in jobs.items()}
            for name, future in futures.items():
                report = future.result()
                if report.ok:
                    print(f"ok      {name}: {report.epochs} epochs identical ({jobs[name][4]})")
                else:
                    failed += 1
                    print(f"DIFFERS {name}: {report.message()}")
    return 1 if stale or failed else 0
