#!/usr/bin/env bash
# Copy the finished runs of a sweep clone into this repository, ready to commit.
#
#   tools/sync-runs.sh CLONE PROFILE [--no-notebooks]
#
# CLONE is the separate clone at a fixed commit that runs the sweep (see DEVELOPERS.md); PROFILE
# the profile it sweeps. A run counts as finished when it has DONE and metrics.json; what is
# copied: config.json, history.csv, metrics.json, per_image.csv, predictions.npz, DONE and the
# executed notebook beside the folder (never model.pt, never the writer's .lock), then the
# sweep's sweep_summary.json. Runs already here are left alone. The notebooks' papermill
# defaults cell is tagged remove-cell, so the book's run pages open with the run's own settings.
# --no-notebooks copies the results only (config, history, metrics, per-image table, DONE): the
# benchmark's many runs stay inside the size budget of book/runs that way.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: tools/sync-runs.sh CLONE PROFILE [--no-notebooks]" >&2
    exit 2
fi
clone=$1 profile=$2 notebooks=1
[ "${3:-}" = "--no-notebooks" ] && notebooks=0
here=$(cd "$(dirname "$0")/.." && pwd)
src=$clone/book/runs/$profile
dst=$here/book/runs/$profile
if [ ! -d "$src" ]; then
    echo "no runs of $profile in $clone (looked in $src)" >&2
    exit 2
fi
files="config.json history.csv metrics.json per_image.csv DONE"
[ $notebooks = 1 ] && files="$files predictions.npz"
n=0
for done in "$src"/*/*/DONE; do
    [ -e "$done" ] || continue
    run=$(dirname "$done")
    rel=${run#"$src"/}
    [ -f "$run/metrics.json" ] || continue
    [ -f "$dst/$rel/DONE" ] && continue
    mkdir -p "$dst/$rel"
    for f in $files; do
        [ -f "$run/$f" ] && cp "$run/$f" "$dst/$rel/$f"
    done
    if [ $notebooks = 1 ] && [ -f "$run.ipynb" ]; then
        cp "$run.ipynb" "$dst/$rel.ipynb"
    fi
    n=$((n + 1))
    echo "copied $rel"
done
[ -f "$src/sweep_summary.json" ] && cp "$src/sweep_summary.json" "$dst/sweep_summary.json"
echo "$n new run(s) of $profile"
if [ $notebooks = 1 ]; then
    "$here/.venv/bin/python" - "$dst" <<'PY'
import json
import sys
from pathlib import Path

for path in Path(sys.argv[1]).glob("*/*.ipynb"):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    changed = False
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            cell["metadata"]["tags"] = [*tags, "remove-cell"]
            changed = True
    if changed:
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
PY
fi
