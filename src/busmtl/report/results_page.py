"""The results chapter's content: every glued value, table and figure of ``book/results.md``.

:class:`ResultsPage` reads the runs of one build once (the profile and the runs folder come from
the environment the book pipeline sets: ``BUSMTL_BOOK_PROFILE``, ``BUSMTL_BOOK_RUNS``); each of
its methods returns the glue values of one section of the chapter as ``{name: value}``, where a
value is a number, a sentence, a MyST table or a figure. The chapter's cells only glue them, so
every rule (which pairs are compared, when a classifier counts as collapsed, what a missing run
shows) is decided here, once, and tested without building the book.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown

from busmtl.config import PROFILES, make_config
from busmtl.report import aggregate, benchmark, figures, headline, stats, summary, systems, tables
from busmtl.report.colors import label
from busmtl.report.headline import METRICS, short
from busmtl.report.numbers import count
from busmtl.report.paper_values import INTERACTION_PAPER, TABLE1, TABLE2
from busmtl.report.protocol import deviations_table

#: The leak-free reference profile, whose answer leads the chapter.
LEAK_FREE: str = "busi-cpu-grouped"
#: The reference profile on the paper's split by image.
PAPER_PROTOCOL: str = "busi-cpu"
#: The method pairs of the paired table (first minus second), shown where both have runs.
PAIRS: tuple[tuple[str, str], ...] = (("atdwa", "dwa"), ("atdwa", "ew"), ("dwa", "ew"))
#: The methods of the fold and per-image figures.
FOCUS: tuple[str, ...] = ("ew", "dwa", "atdwa")

Values = dict[str, Any]


def placeholder(text: str = "no finished runs") -> plt.Figure:
    """A small figure saying why there is nothing to draw."""
    fig, ax = plt.subplots(figsize=(4, 1))
    ax.axis("off")
    ax.text(0, 0.5, text)
    return fig


def _count_sentence(n_tests: int, n_clear: int) -> str:
    """How many of the comparisons with EW have p < 0.05, as a sentence."""
    if n_tests == 0:
        return "No comparison is possible yet."
    if n_tests == 1:
        return ("Its one comparison has a paired t-test p-value below 0.05." if n_clear else
                "Its one comparison has no paired t-test p-value below 0.05.")
    if not n_clear:
        return f"None of its {n_tests} comparisons has a paired t-test p-value below 0.05."
    return (f"Of its {n_tests} comparisons, {count(n_clear)} {'has' if n_clear == 1 else 'have'} "
            "a paired t-test p-value below 0.05.")


def _pending_text(pending: int, planned: int, what: str) -> str:
    """``All 60 leak-free runs have finished`` or ``5 of the 60 leak-free runs are still
    pending``."""
    if pending == 0:
        return f"All {planned} {what} have finished"
    verb = "is" if pending == 1 else "are"
    return f"{pending} of the {planned} {what} {verb} still pending"


def _methods_waiting(methods: list[str]) -> str:
    """``; 2 methods have no finished run yet and show as pending, never dropped: A, B`` (empty
    when every method has one)."""
    if not methods:
        return ""
    n = len(methods)
    return (f"; {n} method{'s have' if n > 1 else ' has'} no finished run yet and "
            f"show{'' if n > 1 else 's'} as pending, never dropped: {', '.join(methods)}")


def _methods_partway(progress: dict[str, tuple[int, int]]) -> str:
    """``; part of the runs have finished for ConFIG (2 of 5) and X (3 of 5)`` (empty when no
    method is part-way)."""
    if not progress:
        return ""
    names = [f"{short(m)} ({done} of {planned})" for m, (done, planned) in progress.items()]
    return f"; part of the runs have finished for {benchmark.join_names(names)}"


def _first(done: pd.DataFrame, column: str, default: Any = "unknown") -> Any:
    """The first finished run's value of ``column`` (the runs of a profile share it), else
    ``default``."""
    values = done[column].dropna() if column in done else pd.Series(dtype=object)
    return values.iloc[0] if len(values) else default


@dataclass
class ResultsPage:
    """The runs of one build and what the results chapter shows of them."""

    profile: str
    runs_root: Path
    runs: pd.DataFrame = field(init=False)
    done: pd.DataFrame = field(init=False)
    per_image: pd.DataFrame = field(init=False)
    hist: pd.DataFrame = field(init=False)
    settings: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.runs = aggregate.collect(self.runs_root, self.profile)
        self.done = self.runs[self.runs["status"] == "done"]
        self.per_image = aggregate.per_image(self.runs)
        self.hist = aggregate.histories(self.runs)
        self.settings = PROFILES[self.profile].settings

    @classmethod
    def from_environment(cls, default_profile: str = PAPER_PROTOCOL) -> ResultsPage:
        """The page of the build the book pipeline started (or of the committed runs)."""
        from busmtl.orchestration.sweep import default_runs_root

        profile = os.environ.get("BUSMTL_BOOK_PROFILE", default_profile)
        return cls(profile, Path(os.environ.get("BUSMTL_BOOK_RUNS") or default_runs_root()))

    # ---------------------------------------------------------------------------------------
    def first(self, column: str, default: Any = "unknown") -> Any:
        """The first finished run's value of ``column`` (they share it), else ``default``."""
        return _first(self.done, column, default)

    @property
    def methods(self) -> list[str]:
        """The profile's methods, in run order."""
        return list(dict.fromkeys(self.runs["method"]))

    @property
    def finished_methods(self) -> set[str]:
        return set(self.done["method"])

    @property
    def on_busi(self) -> bool:
        """True when this build's runs trained on BUSI (:func:`busmtl.data.default.is_busi` of
        the build's data folder, else of the profile's ``dataset``)."""
        from busmtl.data.default import is_busi

        return is_busi(os.environ.get("BUSMTL_BOOK_DATA") or self.settings.get("dataset", "auto"))

    # ---------------------------------------------------------------------------------------
    def overview(self) -> Values:
        """The build's settings, provenance, run counts and the one-line answer."""
        verdict, details = summary.answer(self.runs, self.per_image)
        sizes = self.per_image.groupby(["method", "fold"]).size() if len(self.per_image) else []
        n_folds = int(self.runs["fold"].nunique()) if len(self.runs) else 0
        return {
            "profile": self.profile,
            "data_name": "BUSI" if self.on_busi else "the phantoms",
            "size": int(self.settings.get("prepare_size", 0)),
            "epochs": int(self.settings.get("epochs", 0)),
            "encoder": str(self.settings.get("encoder", "?")).replace("resnet", "ResNet-"),
            "answer": verdict,
            "answer_details": details,
            "n_done": len(self.done),
            "n_expected": len(self.runs),
            "n_folds": n_folds,
            "fold_t_quantile": f"{stats.t_quantile(n_folds):.2f}" if n_folds > 1 else "n/a",
            "wilcoxon_min_p": f"{2 / 2 ** n_folds:.4g}" if n_folds else "n/a",
            "fold_overlap": stats.fold_overlap_text(n_folds),
            "methods_done": ", ".join(label(m) for m in dict.fromkeys(self.done["method"]))
            or "none",
            "commit": str(self.first("git_commit"))[:10],
            "torch": str(self.first("torch_version")),
            "cpu": str(self.first("cpu")),
            "threads": str(int(self.first("threads", 0))),
            "precision": str(self.first("precision")),
            "n_test": int(max(sizes)) if len(sizes) else 0,
        }

    def headline(self) -> Values:
        """The answer on the leak-free protocol, the paper protocol's beside it, and the seeds."""
        lf_runs = aggregate.collect(self.runs_root, LEAK_FREE)
        lf_done = lf_runs[lf_runs["status"] == "done"]
        lf_est = headline.comparisons(aggregate.per_image(lf_runs)) if len(lf_done) else {}
        pp_runs = (self.runs if self.profile == PAPER_PROTOCOL
                   else aggregate.collect(self.runs_root, PAPER_PROTOCOL))
        pp_est = headline.comparisons(aggregate.per_image(pp_runs))
        return {
            "headline": headline.first_sentence(lf_est, pp_est, len(lf_done), len(lf_runs)),
            "tab_headline": tables.myst_table(
                headline.headline_table(lf_est, pp_est),
                "ATDWA against DWA and EW: the paper's reported difference, and ours on the "
                "leak-free protocol and on the paper's split by image (mean per-image difference "
                "with its 95 % interval, resampling seeds, folds and test images together; the "
                "paper's split has one seed, so there folds and test images only; resampling both "
                "at once, its interval need not match either of the intervals over folds alone "
                "and over test images alone that the section on the paper's protocol gives; "
                "'pending': no finished pair of runs yet).", "tab-headline", index=False),
            "budgets": headline.budgets_line(LEAK_FREE),
            "seed_line": headline.seed_line(lf_runs, lf_est),
            "lf_seeds": len(PROFILES[LEAK_FREE].seeds),
            "lf_status": _pending_text(int((lf_runs["status"] != "done").sum()),
                                       len(lf_runs), "leak-free runs"),
            "tab_leak_free": tables.myst_table(
                headline.method_table(lf_runs),
                "Leak-free protocol (`busi-cpu-grouped`): test Dice and accuracy per method, "
                "mean ± standard deviation over the finished seeds x folds (n/N while runs are "
                "pending).", "tab-leak-free", index=False),
        }

    def costs(self) -> dict[str, dict]:
        """The committed weighting benchmark's cost of every method (:func:`benchmark.costs`)."""
        return benchmark.costs(self.bench_json())

    @staticmethod
    def bench_json(name: str = benchmark.BENCH_JSON) -> Path:
        """A committed benchmark's JSON (the weighting benchmark's by default)."""
        from busmtl.settings import repo_root

        return repo_root() / name

    def benchmark(self) -> Values:
        """Every registered weighter on the leak-free protocol, and its cost."""
        bench_runs = benchmark.collect(self.runs_root)
        cost = self.costs()
        done, planned = benchmark.count(bench_runs)
        progress = benchmark.partial(bench_runs)
        estimates = benchmark.differences(bench_runs)
        finished = {key: e for key, e in estimates.items() if key[0] not in progress}
        fig = benchmark.tradeoff_figure(bench_runs, cost)
        plt.close(fig)
        from busmtl.weighting import FAMILIES, available

        return {
            "bench_own": count(sum(family.endswith(", own") for family in FAMILIES.values()),
                               capital=True),
            "bench_registered": len(FAMILIES),
            "bench_progress": _pending_text(planned - done, planned, "benchmark runs")
            + _methods_waiting(benchmark.pending(bench_runs)) + _methods_partway(progress) + ".",
            "bench_clear": benchmark.clear_sentence(estimates, list(progress)),
            "bench_seeds": benchmark.seed_sentence(finished, headline.seed_spread(
                aggregate.collect(self.runs_root, LEAK_FREE), METRICS["Dice"][1])),
            # Markdown (``{glue:md}``): the aggregation benchmark's command shows as code
            "bench_cost": Markdown(benchmark.cost_sentence(cost) + benchmark.aggregation_sentence(
                cost, self.bench_json(benchmark.AGGREGATORS_JSON))),
            "tab_benchmark": tables.myst_table(
                benchmark.table(bench_runs, cost, estimates),
                "Every registered weighter on the leak-free protocol (seed 0, five folds): test "
                "Dice and accuracy (mean over the finished folds; "
                f"{tables.COLLAPSED_MARK}k: k runs whose classifier collapsed, predicting one "
                f"class for at least {aggregate.COLLAPSE_SHARE:.0%} of the test images), the "
                "difference to EW on the folds both have finished, with its "
                "95 % interval over folds and test images "
                f"({tables.ONE_FOLD_MARK}: one fold so far, so the interval covers the test "
                "images only and is too narrow to judge by), and the CPU time of a training step "
                "as a ratio to EW (pooled over the benchmark's rounds; its spread in "
                "{numref}`tab-bench-cost`).", "tab-benchmark", index=False),
            "tab_bench_cost": tables.myst_table(
                benchmark.cost_table(list(available()), cost),
                "What a training step of each method costs, from one run of "
                f"`{benchmark.command(self.bench_json())}` on "
                f"{benchmark.machine(self.bench_json())} (every method timed in interleaved "
                "rounds, each method's steps right after EW's in the same process): "
                f"{benchmark.RATIO_NOTE}; the memory one step adds; and for a gradient-balancing "
                "method the CPU time with its Jacobian taken over the shared representation "
                "instead of the shared parameters.", "tab-bench-cost", index=False),
            "fig_tradeoff": fig,
        }

    def completeness(self) -> Values:
        """Runs finished per method, collapsed classifiers, methods without runs, majority."""
        complete = aggregate.completeness(self.runs).set_index("method")
        complete.index = [label(m) for m in complete.index]
        complete.index.name = "method"
        collapsed = self.done[self.done["collapsed"]]
        share = f"{aggregate.COLLAPSE_SHARE:.0%}"
        if len(collapsed):
            listing = ", ".join(f"{label(m)} fold {f}"
                                for m, f in zip(collapsed["method"], collapsed["fold"]))
            collapse = (f"{len(collapsed)} run(s) have a collapsed classifier (one class "
                        f"predicted for at least {share} of the test images): {listing}. Their "
                        f"classification numbers are marked {tables.COLLAPSED_MARK} in the tables "
                        "and say little about the method.")
        else:
            collapse = (f"No run has a collapsed classifier: none predicts one class for "
                        f"{share} or more of the test images.")
        from busmtl.weighting import available

        not_run = [label(m) for m in available() if m not in self.finished_methods]
        return {
            "tab_runs": tables.myst_table(complete, "Finished runs per method (of the folds "
                                          "planned).", "tab-runs"),
            "collapse_text": collapse,
            "not_run_text": (f"The other registered methods ({', '.join(not_run)}) have no "
                             "finished run in this profile, so the tables of this profile leave "
                             "them out; the benchmark section shows them on the leak-free "
                             "protocol." if not_run else ""),
            "majority": float(self.first("majority_share", np.nan)),
            "acc_min": float(self.done["test_cls_acc"].min()) if len(self.done) else np.nan,
        }

    def main_tables(self) -> Values:
        """Table II analogue (segmentation, classification), bold rule, GradNorm's batches."""
        t2 = tables.table2(self.runs)
        seg_cols, cls_cols = list(t2.columns[:6]), list(t2.columns[6:])
        bold = [m for m in (tables.clear_best(self.runs, metric) for metric in
                            ("seg_dice", "seg_iou", "cls_acc", "cls_f1")) if m]
        return {
            "tab_t2_seg": tables.myst_table(
                t2[seg_cols], "Segmentation on the held-out test set: mean ± standard deviation "
                "over folds.", "tab-t2-seg"),
            "tab_t2_cls": tables.myst_table(
                t2[cls_cols], "Classification on the held-out test set: mean ± standard "
                f"deviation over folds ({tables.COLLAPSED_MARK}k: k runs with a collapsed "
                "classifier).", "tab-t2-cls"),
            "bold_text": ("No value is bold: in no column does the highest mean beat every "
                          "other method clearly over the folds." if not bold else
                          "A bold value is clearly best in its column (its paired difference "
                          "with every other method over the folds excludes zero)."),
            "gradnorm_steps": self.gradnorm_steps(),
        }

    def gradnorm_batches(self) -> tuple[int, int] | None:
        """GradNorm's batch size and the others' (EW's), where the two differ; else None."""
        if "batch_size" not in self.done:
            return None
        batches = self.done.groupby("method")["batch_size"].first()
        if not {"gradnorm", "ew"} <= set(batches.index):
            return None
        mine, others = int(batches["gradnorm"]), int(batches["ew"])
        return (mine, others) if mine != others else None

    def gradnorm_steps(self) -> str:
        """A sentence on GradNorm's other batch size (more or fewer steps per epoch), or ''."""
        batches = self.gradnorm_batches()
        if batches is None:
            return ""
        mine, others = batches
        ratio = others / mine
        times = ({2.0: "twice as many"}.get(ratio, f"{ratio:.1f} times as many") if ratio > 1
                 else {0.5: "half as many"}.get(ratio, f"{1 / ratio:.1f} times fewer"))
        return (f"GradNorm trains with batch {mine} against {others} for the others (as in the "
                f"paper), so it takes {times} optimizer steps per epoch: part of any difference "
                "between GradNorm and the other methods comes from that difference in steps, "
                "not from its weights.")

    def paired(self) -> Values:
        """Paired differences of :data:`PAIRS`, and the fold and per-image figures."""
        pairs = [(a, b) for a, b in PAIRS if {a, b} <= self.finished_methods]
        comparison = stats.comparison_table(self.runs, self.per_image, pairs)
        if comparison.empty:
            comparison = pd.DataFrame({"comparison": ["no pair of finished methods"]})
        focus = [m for m in FOCUS if m in self.finished_methods]
        return {
            "tab_paired": tables.myst_table(
                comparison.set_index("comparison"),
                "Paired differences (first method minus second) of test Dice and accuracy, with "
                "95 % intervals over folds (t distribution) and over test images (bootstrap, "
                "10,000 resamples).", "tab-paired"),
            "fig_folds": (figures.fold_comparison_figure(self.runs, focus) if focus
                          else placeholder()),
            "fig_images": (figures.per_image_figure(self.per_image, focus) if focus
                           else placeholder()),
        }

    def versus_paper(self) -> Values:
        """This build's means beside the paper's Table II, and the Table I analogue."""
        t2p = tables.table2_vs_paper(self.runs)
        return {
            "tab_vs_paper": tables.myst_table(
                t2p.iloc[:, :6], "Segmentation: this build's means beside the primary paper's "
                "Table II (BUSI at 256 px, ImageNet ResNet-34, early stopping), and their "
                "difference (ours minus paper).", "tab-vs-paper"),
            "tab_vs_paper_cls": tables.myst_table(
                t2p.iloc[:, 6:], "Classification: this build's means beside the primary paper's "
                "Table II, and their difference (ours minus paper).", "tab-vs-paper-cls"),
            "tab_t1": tables.myst_table(
                tables.table1(self.runs), "Earlier BUSI multi-task models as cited by the "
                "primary paper (NA: not reported), the paper's ATDWA and this build's ATDWA. "
                "The paper prints ATDWA's precision as "
                f"{TABLE1['ATDWA (paper)']['cls_precision']:.4f} in its Table I and "
                f"{TABLE2['atdwa']['cls_precision']:.4f} in its Table II; each table here copies "
                "the one it stands beside.",
                "tab-t1"),
        }

    def cost(self) -> Values:
        """Table III analogue from the runs, its CPU-time ratios from the benchmark, the
        paper's Table III."""
        kind = str(self.first("memory_kind", "cpu_peak_rss"))
        t3 = tables.table3(self.runs)
        return {
            "tab_t3": tables.myst_table(
                t3.iloc[:, :4], "Memory per method, mean over folds, with its ratio to equal "
                "weighting on the same fold (mean ± standard deviation over folds). Memory added "
                "by training: peak minus the memory in use before the first step.", "tab-t3"),
            "tab_t3_time": tables.myst_table(
                t3.iloc[:, 4:], "Wall-clock time of a step and of an epoch per method, mean over "
                "folds, with its ratio to equal weighting on the same fold (mean ± standard "
                "deviation over folds; runs that shared the machine with one other run, so the "
                "CPU-time ratios of the next table are the ones to trust).", "tab-t3-time"),
            "tab_t3_paper": tables.myst_table(
                tables.table3_paper(), "The primary paper's Table III (GPU; its memory, given "
                "in GB, shown in MiB as GB x 1024), with ratios computed from its values as "
                "printed to four decimals (so a ratio can differ slightly from one of the rounded "
                "values shown).", "tab-t3-paper"),
            "tab_t3_cpu": tables.myst_table(
                benchmark.cost_table(self.methods, self.costs()),
                "The CPU time of one training step as a ratio to EW, from the weighting "
                f"benchmark (`{benchmark.command(self.bench_json())}`: every method timed in "
                f"one run, in interleaved rounds): {benchmark.RATIO_NOTE}; and the memory one step "
                "adds.", "tab-t3-cpu", index=False),
            "gradnorm_epochs": ("GradNorm's other batch size (noted with the Table II "
                                "analogue) gives it another number of steps per epoch, so its "
                                "step and epoch times and its memory are not comparable "
                                "with the others'."
                                if self.gradnorm_batches() else ""),
            "memory_kind": ("the peak resident memory of the run's process"
                            if kind == "cpu_peak_rss"
                            else "the peak memory allocated by PyTorch on the GPU"),
        }

    def curves(self) -> Values:
        """Fig. 3 analogues: weights, temperature and losses per epoch."""
        if self.hist.empty:
            fig = placeholder()
            return dict.fromkeys(("fig_weights", "fig_temperature", "fig_losses"), fig)
        return {"fig_weights": figures.weights_figure(self.hist),
                "fig_temperature": figures.temperature_figure(self.hist),
                "fig_losses": figures.loss_figure(self.hist)}

    def qualitative(self) -> Values:
        """Fig. 4 analogue: test images with every method's mask, and the images' credit."""
        return {
            "fig_qualitative": (figures.qualitative_figure(self.runs, fold=0, per_class=2,
                                                           exclude=self.cross_class_ids())
                                if len(self.done) else placeholder()),
            "image_credit": ("BUSI images: Al-Dhabyani et al. (2020), CC BY 4.0." if self.on_busi
                             else "Synthetic phantoms generated by busmtl."),
        }

    def cross_class_ids(self) -> set[str]:
        """BUSI's frames filed under both classes (:func:`leak.cross_class_ids`): never shown as
        a typical case. Empty off BUSI."""
        from busmtl.report import leak
        from busmtl.settings import repo_root

        return leak.cross_class_ids(repo_root() / "book" / "data") if self.on_busi else set()

    def versus_ew(self) -> Values:
        """Every method against equal weighting, over folds (paired t-test)."""
        vs_ew = stats.paired_vs_baseline(self.runs)
        matrix = stats.paired_matrix(vs_ew)
        n_clear = int(vs_ew["verdict"].isin(["better", "worse"]).sum()) if len(vs_ew) else 0
        if matrix.empty:
            note = "equal weighting or another method has no finished run"
            matrix = pd.DataFrame({"note": [note]})
        return {
            "tab_vs_ew": tables.myst_table(
                matrix, "Mean paired difference to equal weighting over folds, with the paired "
                "t-test p-value; bold with a direction where p < 0.05.", "tab-vs-ew"),
            "vs_ew_count": _count_sentence(len(vs_ew), n_clear),
            "vs_ew_caveat": (
                "So many tests at once produce some such values by chance alone (about one in "
                "twenty when nothing differs), so a single bold cell is weak evidence."
                if n_clear else "With this many tests, about one in twenty would fall below "
                "0.05 by chance alone even if nothing differed."),
        }

    def systems(self) -> Values:
        """The interaction network and CB-Dice beside the reference runs of the same methods."""
        sys_runs, sys_per_image = systems.collect(self.runs_root)
        n_int, n_int_planned = systems.finished(sys_runs, "busi-cpu-interaction")
        n_cb, n_cb_planned = systems.finished(sys_runs, "busi-cpu-cbdice")
        contrast = systems.contrast_table(sys_runs, sys_per_image)
        return {
            "n_int": n_int, "n_int_planned": n_int_planned,
            "n_cb": n_cb, "n_cb_planned": n_cb_planned,
            "tab_systems": tables.myst_table(
                systems.systems_table(sys_runs),
                "The interaction network and DMF-Var with CB-Dice beside the reference runs of "
                "the same methods: test Dice, IoU and accuracy (mean ± sd over the folds "
                "finished, of those planned).", "tab-systems"),
            "tab_contrast": tables.myst_table(
                contrast.set_index("comparison"),
                "Paired differences (companion minus reference run of the same method and "
                "fold), with 95 % intervals over folds and over test images, as in the paired "
                "table above.", "tab-contrast"),
            "systems_verdict": systems.verdict_text(contrast),
            "cb_fade": self.cb_fade(sys_runs),
            "int_paper_iou": f"{INTERACTION_PAPER['seg_iou']:.3f}",
            "int_paper_acc": f"{INTERACTION_PAPER['cls_acc']:.3f}",
        }

    @staticmethod
    def cb_fade(sys_runs: pd.DataFrame) -> str:
        """When CB-Dice's factor gamma(t) has faded (its mean over an epoch below 1 % of
        gamma0) in the CB-Dice runs, or '' without them."""
        config = make_config("busi-cpu-cbdice", method="dmf_var")
        hist = aggregate.histories(sys_runs[sys_runs["profile"] == "busi-cpu-cbdice"])
        if not len(hist):
            return ""
        fade = hist[hist["aux_gamma"] < 0.01 * config.aux_gamma0].groupby("fold")["epoch"].min()
        runs = int(hist["fold"].nunique())
        if not len(fade):
            return (f"In none of the {runs} runs did the factor's mean over an epoch fall below "
                    f"1 % of its start within {config.epochs} epochs.")
        which = "these runs" if len(fade) == runs else f"{len(fade)} of the {runs} runs"
        return (f"In {which} the factor's mean over an epoch fell below 1 % of its start by "
                f"epoch {int(fade.max())} of {config.epochs}: CB-Dice shapes only the first "
                f"epochs here because of this project's tau = {config.aux_tau:g} per "
                f"{config.aux_schedule} (the default of DMF's demo code). DMF's own BUSI example "
                "counts t in blocks of steps, so there the factor fades far more slowly; these "
                "runs do not follow it.")

    def deviations(self) -> Values:
        """The paper's protocol beside this profile's settings, and the rows in which the other
        BUSI protocol's profile (the leak-free one, or the paper's split for it) differs."""
        precision = str(self.first("precision", None)) if len(self.done) else None
        table = deviations_table(self.profile, precision)
        other = LEAK_FREE if self.profile != LEAK_FREE else PAPER_PROTOCOL
        their_runs = aggregate.collect(self.runs_root, other)
        their_precision = _first(their_runs[their_runs["status"] == "done"], "precision", None)
        theirs = deviations_table(other, None if their_precision is None else str(their_precision))
        changed = theirs[theirs[other] != table[self.profile]].copy()
        changed.insert(1, self.profile, table.loc[changed.index, self.profile])
        if other == LEAK_FREE:
            uses = (f"The headline's leak-free protocol uses the {other} profile (and the "
                    "benchmark its seed-0 runs, beside those of busi-cpu-benchmark: the same "
                    "settings, seed 0 only)")
        else:
            uses = f"The runs on the paper's split by image use the {other} profile"
        if changed.empty:
            changed = pd.DataFrame({"setting": ["every row"], "paper": ["\u2013"],
                                    self.profile: ["the same"], other: ["the same"],
                                    "status": ["\u2013"], "why": ["\u2013"]}).set_index("setting")
            uses += f"; its settings are those of {self.profile} in every row"
        else:
            uses += f", which differs from {self.profile} in the rows below"
        return {
            "tab_deviations": tables.myst_table(
                table, f"The primary paper's protocol beside the {self.profile} profile. "
                "'choice' marks values the paper does not give; 'deviation' marks values the "
                "paper gives and this profile changes.", "tab-deviations", prose=True),
            "deviations_other": uses,
            "tab_deviations_other": tables.myst_table(
                changed, f"The rows where the {other} profile differs from the {self.profile} "
                "profile (every other row is the same); the status and the reason are "
                f"{other}'s.", "tab-deviations-other", prose=True),
        }
