#!/usr/bin/env bash
# Compare BLAS builds with `mnistref bench`: one virtual environment per NumPy wheel
# (each wheel bundles its own OpenBLAS release), `mnistref bench --json` in each,
# interleaved, then `mnistref bench --compare` of every build against the first and
# one Markdown table of all of them.
#
#   benchmarks/compare_builds.sh [WORKDIR] [NUMPY_VERSION ...]
#
# WORKDIR (default /tmp/mnistref-builds) gets a venv per version and the reports
# numpy-VERSION.json, compare-VERSION.txt and builds.md.  Versions default to 2.4.6
# 2.2.6 2.0.2 (OpenBLAS 0.3.31, 0.3.29 and 0.3.27).  PASSES (default 3) runs of
# one round each per build, in the order A B C, C B A, A B C, ...: load that drifts
# over minutes on a shared machine then falls on every build alike, where builds
# measured one after the other would each get their own minutes.  Extra
# `mnistref bench` options go in BENCH_ARGS (default: --dtype float32,float64
# --batch 64,128 --load idle --no-torch --no-memory --epoch-rows 7680).  Measured:
# about 1 minute per run on 2 cores at load average 4-6, so 9-10 minutes for 3
# builds x 3 passes, plus 1-2 minutes per fresh venv.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/mnistref-builds}"
shift || true
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(2.4.6 2.2.6 2.0.2)
passes="${PASSES:-3}"
read -r -a bench_args <<< "${BENCH_ARGS:---dtype float32,float64 --batch 64,128 --load idle --no-torch --no-memory --epoch-rows 7680}"
mkdir -p "$work"

for v in "${versions[@]}"; do
    env="$work/venv-numpy-$v"
    if [ ! -x "$env/bin/mnistref" ]; then
        echo "== numpy $v: installing into $env"
        python3 -m venv "$env"
        "$env/bin/pip" install --quiet "numpy==$v" "$repo"
    fi
done

for ((p = 1; p <= passes; p++)); do
    order=("${versions[@]}")
    if ((p % 2 == 0)); then
        order=()
        for ((i = ${#versions[@]} - 1; i >= 0; i--)); do order+=("${versions[i]}"); done
    fi
    for v in "${order[@]}"; do
        echo "== pass $p, numpy $v: mnistref bench --repeat 1 ${bench_args[*]}"
        # The repo's mnistref in every venv: only NumPy and its BLAS differ.
        PYTHONPATH="$repo" "$work/venv-numpy-$v/bin/python" -m mnistref bench --repeat 1 \
            "${bench_args[@]}" --json "$work/numpy-$v.pass$p.json" > "$work/bench-$v.pass$p.txt"
    done
done

# Pool each build's passes into one report (the repo's mnistref: the same code for all).
for v in "${versions[@]}"; do
    PYTHONPATH="$repo" "$work/venv-numpy-$v/bin/python" - "$work/numpy-$v.json" \
        "$work"/numpy-"$v".pass*.json <<'PY'
import sys

from mnistref import bench

out, *runs = sys.argv[1:]
bench.save(bench.merge([bench.load(p) for p in runs]), out)
PY
done

first="${versions[0]}"
for v in "${versions[@]:1}"; do
    echo "== numpy $first vs numpy $v"
    PYTHONPATH="$repo" "$work/venv-numpy-$first/bin/python" -m mnistref bench --compare \
        "$work/numpy-$first.json" "$work/numpy-$v.json" | tee "$work/compare-$v.txt"
done

echo "== all builds, as the table of docs/benchmarks.md"
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
