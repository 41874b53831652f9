"""The sweep's notebook as papermill's users type it: its parameters cell parses without a
warning (``papermill --help-notebook`` lists every parameter with its default), and the README's
papermill command creates its output folder and passes only parameters the notebook has."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from busmtl.orchestration.reproduce import NOTEBOOK_PARAMETERS
from busmtl.settings import repo_root

ROOT = repo_root()
NOTEBOOK = ROOT / "notebooks" / "train_fold.ipynb"
PAPERMILL = Path(sys.executable).parent / "papermill"


def parameters_cell() -> dict[str, object]:
    """The defaults of the cell tagged ``parameters``, read with Python's own parser."""
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    tree = ast.parse(cell.source)
    return {node.targets[0].id: ast.literal_eval(node.value)
            for node in tree.body if isinstance(node, ast.Assign)}


@pytest.mark.skipif(not PAPERMILL.exists(), reason="papermill is not installed in this environment")
def test_help_notebook_lists_every_parameter_without_a_warning():
    done = subprocess.run([str(PAPERMILL), "--help-notebook", str(NOTEBOOK)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "warning" not in output.lower() and "unable to parse" not in output.lower(), output
    defaults = parameters_cell()
    assert {"cpu_isa", "split_group", "precision", "num_threads"} <= set(defaults)
    for name, value in defaults.items():
        shown = f'"{value}"' if isinstance(value, str) else str(value)
        assert re.search(rf"^\s*{name}: .*\(default {re.escape(shown)}\)", done.stdout, re.MULTILINE), (
            name, done.stdout)


def readme_papermill_command() -> list[str]:
    """The README's papermill block: its lines, continuation lines joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```bash\n(.*?)```", text, re.DOTALL) if "papermill " in b)
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_readme_papermill_command_creates_its_output_folder_and_passes_known_parameters():
    lines = readme_papermill_command()
    at = next(i for i, line in enumerate(lines) if line.startswith("papermill "))
    words = shlex.split(lines[at])
    output_folder = Path(words[2]).parent.as_posix()
    assert any(shlex.split(line)[:3] == ["mkdir", "-p", output_folder] for line in lines[:at]), lines
    passed = {words[i + 1]: words[i + 2] for i, w in enumerate(words) if w == "-p"}
    assert set(passed) <= set(parameters_cell()), set(passed) - set(parameters_cell())
    # the settings that make a run the sweep's are all given
    assert {"num_threads", "precision", "cpu_isa"} <= set(passed)
    assert {"num_threads", "precision", "cpu_isa"} <= NOTEBOOK_PARAMETERS


def test_printed_commands_carry_the_precision_and_isa_the_sweep_uses():
    from busmtl.config import make_config
    from busmtl.orchestration.reproduce import commands, planned_recipe

    spec = planned_recipe("busi-cpu", "atdwa", 0)
    level = make_config("busi-cpu", method="atdwa").cpu_isa
    assert spec.settings["cpu_isa"] == level == "avx2"
    precision = spec.settings["precision"]
    printed = commands(spec, "runs/atdwa-fold0")
    assert f"--precision {precision} --cpu-isa {level}" in printed["busmtl"]
    assert f"-p precision {precision} -p cpu_isa {level}" in printed["papermill"]
    assert printed["papermill"].startswith("mkdir -p runs && ")
    assert f'pin("{level}")' in printed["python"] and "'\"'\"'" not in printed["python"]
