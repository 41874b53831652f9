"""The weighting lab (book/lab.md): every code cell runs in under a minute on two cores, the
exercises' starter cells run and their self-checks say FAIL, the hidden solutions make every
check say PASS, and the notebook for students has no solutions."""

from __future__ import annotations

import datetime as dt
import os
import re

import nbformat
import pytest

from busmtl.settings import repo_root

pytest.importorskip("myst_nb")
from myst_nb.core.read import read_myst_markdown_notebook

LAB = repo_root() / "book" / "lab.md"
#: The lab's time budget: a laptop with two cores runs every cell of the lab in under a minute.
CELL_LIMIT_S = 60.0


def lab_notebook() -> nbformat.NotebookNode:
    return read_myst_markdown_notebook(LAB.read_text(encoding="utf-8"))


def classify(nb: nbformat.NotebookNode) -> list[str]:
    """Per cell: ``markdown``, ``starter`` (an exercise's cell, not run by the build),
    ``solution`` (inside a hidden solution) or ``lab`` (every other code cell)."""
    kinds, inside = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            markers = re.findall(r"\{solution-(start|end)\}", cell.source)
            if markers:
                inside = markers[-1] == "start"
            kinds.append("markdown")
        elif "skip-execution" in cell.metadata.get("tags", []):
            kinds.append("starter")
        else:
            kinds.append("solution" if inside else "lab")
    return kinds


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


@pytest.fixture(scope="module")
def executed():
    """The lab executed top to bottom in a Jupyter kernel, starter cells included, with the
    cell timings nbclient records."""
    from nbclient import NotebookClient

    nb = lab_notebook()
    kinds = classify(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "skip-execution"]
    env_threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "2"
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=True,
                       resources={"metadata": {"path": str(LAB.parent)}}).execute()
    finally:
        if env_threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_threads
    return nb, kinds


def _seconds(cell) -> float:
    timing = cell.metadata["execution"]
    start = dt.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


@pytest.mark.slow
def test_every_lab_cell_runs_in_under_a_minute(executed):
    nb, _ = executed
    times = [(i, _seconds(c)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    slow = [(i, round(t, 1), nb.cells[i].source.splitlines()[0]) for i, t in times if t >= CELL_LIMIT_S]
    assert not slow, f"cells over {CELL_LIMIT_S} s: {slow}"
    assert len(times) >= 15


@pytest.mark.slow
def test_solutions_pass_and_starters_fail(executed):
    nb, kinds = executed
    solutions = [c for c, k in zip(nb.cells, kinds) if k == "solution"]
    starters = [c for c, k in zip(nb.cells, kinds) if k == "starter"]
    assert len(solutions) >= 7 and len(starters) == len(solutions)
    for cell in solutions:
        out = _text(cell)
        assert "PASS" in out and "FAIL" not in out, (cell.source, out)
    for cell in starters:
        assert "FAIL" in _text(cell), (cell.source, _text(cell))


def test_lab_has_six_to_ten_exercises_each_with_a_hidden_solution():
    text = LAB.read_text(encoding="utf-8")
    exercises = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
    assert 6 <= len(exercises) <= 10
    for label in exercises:
        block = re.search(r"```\{solution(?:-start)?\} " + re.escape(label) + r"\n(:[^\n]*\n)*", text)
        assert block is not None, f"no solution for {label}"
        assert ":class: dropdown" in block.group(0), f"the solution of {label} is not hidden"
    assert "Learning objectives" in text


def _student(tmp_path) -> nbformat.NotebookNode:
    from busmtl.teaching.lab import student_notebook

    return nbformat.read(str(student_notebook(LAB, tmp_path / "lab.ipynb")), as_version=4)


def test_the_student_notebook_has_no_solutions(tmp_path):
    nb = _student(tmp_path)
    sources = "\n".join(c.source for c in nb.cells)
    assert "{solution" not in sources and "lab.check_dwa_by_hand(my_weights)" in sources
    assert "my_weights = [None, None]" in sources            # the starter is there
    assert "my_weights = [2 * e_k" not in sources              # its solution is not
    kinds = classify(lab_notebook())
    shown = [c for c, k in zip(lab_notebook().cells, kinds) if k in ("lab", "starter")
             and "remove-input" not in c.metadata.get("tags", [])]
    # every lab and starter cell, plus the first cell that installs the project where missing
    assert [c.source for c in nb.cells if c.cell_type == "code"][1:] == [c.source for c in shown]
    assert "%pip install" in next(c for c in nb.cells if c.cell_type == "code").source
    assert not any("skip-execution" in c.metadata.get("tags", []) for c in nb.cells)
    # it says where the solutions are, not that they are folded away under its exercises
    assert "This notebook has no solutions" in sources and "On this page" not in sources


def test_only_blocks_keep_the_students_text_and_drop_the_books():
    from busmtl.settings import repository
    from busmtl.teaching.student_notebook import plain_markdown

    text = ("Common.\n\n```{only} html\nFor the book's readers.\n```\n\n"
            "```{only} student\nFor students: see [the lab](lab.md).\n```\n\nAfter.\n")
    out = plain_markdown(text, repository(), {})
    assert "Common." in out and "After." in out and "For students: see" in out
    assert "book's readers" not in out and "{only}" not in out and "```" not in out
    assert f"[the lab]({repository().page_url('lab')})" in out


def test_the_student_notebook_as_markdown_shows_numbered_exercises_and_no_myst(tmp_path):
    import jupytext

    from busmtl.settings import repository

    text = jupytext.writes(_student(tmp_path), "md")
    titles = re.findall(r"^#{1,4} Exercise (\d+): (\S.*)$", text, re.MULTILINE)
    book_titles = re.findall(r"```\{exercise\} (.+)", LAB.read_text(encoding="utf-8"))
    assert [int(n) for n, _ in titles] == list(range(1, len(book_titles) + 1))
    assert [t for _, t in titles] == book_titles
    for raw in ("{ref}", "{cite}", "{download}", ":label:", "{exercise}", "{admonition}", "```{"):
        assert raw not in text, raw
    # links point to the published book of the one repository setting, never to a .md file
    book = repository().book_url
    assert f"]({book}book/methods.html)" in text
    assert not re.search(r"\]\([^)]*\.md[)#]", text)
    assert "Exercise 2" in text.split("Implement the slow-task rule", 1)[1]   # {ref} resolved


def test_the_committed_student_notebook_is_the_generated_one(tmp_path):
    from busmtl.settings import STUDENT_NOTEBOOK

    committed = nbformat.read(str(repo_root() / STUDENT_NOTEBOOK), as_version=4)
    fresh = _student(tmp_path)
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in fresh.cells], "run `python -m busmtl.teaching.lab` and commit it"


def _fail_line(capsys, check, *answer) -> str:
    """What ``check(*answer)`` prints; it must fail, and end with a FAIL line."""
    assert check(*answer) is False
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("FAIL"), out
    return out


def _numbers(values, decimals=(1, 2, 3, 4)) -> list[str]:
    return [f"{float(v):.{d}f}" for v in values for d in decimals]


def test_a_wrong_answer_never_prints_the_expected_value(capsys):
    """One wrong answer per exercise with a self-check: the FAIL line says what is wrong and
    contains none of the values (or the formula) that would pass."""
    from busmtl.teaching import lab
    from busmtl.weighting import get_weighter

    calm = get_weighter("dwa", num_tasks=2)
    for epoch in ([1.0, 1.0], [1.0, 1.0]):
        calm.epoch_end(epoch)
    out = _fail_line(capsys, lab.check_more_weight_to_classification, calm)
    assert "1.000" in out                      # the student's own weights, nothing else

    expected = lab.dwa_weights(lab.HAND_LOSSES)
    out = _fail_line(capsys, lab.check_dwa_by_hand, [1.2, 0.8])
    assert not any(n in out for n in _numbers(expected, (2, 3, 4))) and "exp" not in out, out
    assert "segmentation weight is too large" in out

    # gamma left at its default: ATDWA's temperature moves and its weights are not DWA's
    from busmtl.teaching.toy import simulate

    out = _fail_line(capsys, lab.check_gamma_zero, simulate("atdwa", noise=lab.NOISE),
                     simulate("dwa", noise=lab.NOISE))
    assert "temperature still changes" in out and "T = " not in out, out

    out = _fail_line(capsys, lab.check_mgda_by_hand, [0.5, 0.5])
    assert not any(n in out for n in _numbers(lab.mgda_weights(*lab.MGDA_GRADIENTS), (2, 3))), out

    temperatures = [lab.max_temperature(noise=lab.NOISE, noisy_task=t) for t in ("seg", "cls")]
    wrong_task = min(("seg", "cls"), key=lambda t: lab.max_temperature(noise=lab.NOISE, noisy_task=t))
    out = _fail_line(capsys, lab.check_noisy_task, wrong_task)
    assert not any(n in out for n in _numbers(temperatures)), out

    scales = (0.3, 1, 3)
    out = _fail_line(capsys, lab.check_scale, {s: 1.0 for s in scales})
    values = [lab.max_temperature(noise=lab.NOISE, seg_scale=s) for s in scales]
    assert not any(n in out for n in _numbers(values)), out

    alphas = (0, 1.5, 3)
    out = _fail_line(capsys, lab.check_gradnorm_alpha, {a: 1.0 for a in alphas})
    peaks = [lab.peak_classification_weight(a) for a in alphas]
    assert not any(n in out for n in _numbers(peaks, (2, 3, 4))), out

    out = _fail_line(capsys, lab.check_weighter, _equal_weights())
    want = lab.SlowTaskReference(2)
    for epoch in lab.HAND_LOSSES:
        want.epoch_end(list(epoch))
    import torch

    rule = want.backward(torch.ones(2, requires_grad=True) * 1.0, lab._Unused())
    assert not any(n in out for n in _numbers(rule, (3, 4))), out

    best = lab.closest_temperature()
    wrong_T = 4.0 if best != 4.0 else 0.5
    out = _fail_line(capsys, lab.check_closest_temperature, wrong_T)
    assert f"T = {best:g} " not in out and f"T = {best:g} is closest" not in out, out


def _equal_weights():
    from busmtl.weighting.base import Weighter

    class EqualWeights(Weighter):
        """The starter of the weighter exercise, left as it is."""

        name = "equal"

        def backward(self, losses, model):
            import torch

            self._check(losses)
            weights = torch.ones(self.num_tasks)
            self._weighted_backward(losses, weights)
            return weights.detach()

    return EqualWeights


@pytest.mark.parametrize("answer", [..., [..., 0.5], {0.3: ..., 1: 2.0, 3: 4.0}])
def test_an_untouched_ellipsis_is_named_not_a_type_error(capsys, answer):
    from busmtl.teaching import lab

    check = {list: lab.check_dwa_by_hand, dict: lab.check_scale}.get(type(answer), lab.check_noisy_task)
    assert check(answer) is False
    out = capsys.readouterr().out
    assert out.startswith("FAIL") and "`...`" in out and "Error" not in out, out


def test_mgda_weights_agree_with_the_closed_form_and_torchjd():
    from busmtl.teaching import lab

    # a pair whose minimum lies inside the segment, and one where it is an end point
    for pair in (lab.MGDA_GRADIENTS, ((1.0, 0.0), (3.0, 0.5))):
        closed = lab.mgda_weights(*pair)
        assert sum(closed) == pytest.approx(1.0)
        assert lab.torchjd_mgda_weights(pair) == pytest.approx(closed, abs=1e-3)
    assert lab.mgda_weights(*lab.MGDA_GRADIENTS) == pytest.approx([0.25, 0.75])
    assert lab.mgda_weights((1.0, 0.0), (3.0, 0.5)) == pytest.approx([1.0, 0.0])
