#!/usr/bin/env bash
# Compare BLAS builds with `mnistref bench`: one virtual environment per NumPy wheel
# (each wheel bundles its own OpenBLAS release), `mnistref bench --json` in each, then
# `mnistref bench --compare` of every build against the first.
#
#   benchmarks/compare_builds.sh [WORKDIR] [NUMPY_VERSION ...]
#
# WORKDIR (default /tmp/mnistref-builds) gets a venv per version and the reports
# numpy-VERSION.json and compare-VERSION.txt.  Versions default to 2.4.6 2.2.6 2.0.2
# (OpenBLAS 0.3.31, 0.3.29 and 0.3.27).  Extra `mnistref bench` options go in
# BENCH_ARGS (default: --quick --dtype float32,float64 --batch 64,128 --no-torch
# --no-memory).  On 2 cores, about 2 minutes per build on an idle machine, plus
# the installs.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/mnistref-builds}"
shift || true
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(2.4.6 2.2.6 2.0.2)
read -r -a bench_args <<< "${BENCH_ARGS:---quick --dtype float32,float64 --batch 64,128 --no-torch --no-memory}"
mkdir -p "$work"

for v in "${versions[@]}"; do
    env="$work/venv-numpy-$v"
    if [ ! -x "$env/bin/mnistref" ]; then
        echo "== numpy $v: installing into $env"
        python3 -m venv "$env"
        "$env/bin/pip" install --quiet "numpy==$v" "$repo"
    fi
    echo "== numpy $v: mnistref bench ${bench_args[*]}"
    "$env/bin/mnistref" bench "${bench_args[@]}" --json "$work/numpy-$v.json" > "$work/bench-$v.txt"
    tail -n 3 "$work/bench-$v.txt"
done

first="${versions[0]}"
for v in "${versions[@]:1}"; do
    echo "== numpy $first vs numpy $v"
    "$work/venv-numpy-$first/bin/mnistref" bench --compare "$work/numpy-$first.json" \
        "$work/numpy-$v.json" | tee "$work/compare-$v.txt"
done

echo "== all builds, as the README's table"
jsons=()
for v in "${versions[@]}"; do jsons+=("$work/numpy-$v.json"); done
PYTHONPATH="$repo" "$work/venv-numpy-$first/bin/python" - "${jsons[@]}" <<'PY' | tee "$work/builds.md"
import sys
from pathlib import Path

from mnistref import bench

paths = sys.argv[1:]
names = [Path(p).stem.replace("numpy-", "numpy ") for p in paths]
print(bench.format_builds_markdown([bench.load(p) for p in paths], names))
PY
