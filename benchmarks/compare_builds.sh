#!/usr/bin/env bash
# Compare BLAS builds with `mnistref bench`: `mnistref bench --json` in each build,
# interleaved, then `mnistref bench --compare` of every build against the first and
# one Markdown table of all of them.
#
#   benchmarks/compare_builds.sh [WORKDIR] [BUILD ...]
#
# A BUILD is one of
#   VERSION, wheel:VERSION  NumPy's wheel of that version, with the OpenBLAS it bundles
#                           (2.4.6: OpenBLAS 0.3.31, 2.2.6: 0.3.29, 2.0.2: 0.3.27)
#   netlib                  NumPy SRC_NUMPY (default 2.4.6) built from source against
#                           Debian's reference BLAS and LAPACK (libblas-dev,
#                           liblapack-dev): one unblocked thread, the slowest
#   blis                    the same NumPy, Debian's BLIS (libblis-dev) put in front of
#                           the reference BLAS with LD_PRELOAD
#   mkl                     the same NumPy, Intel MKL (PyPI's `mkl` wheel, MKL_VERSION,
#                           default 2025.*) put in front with LD_PRELOAD of libmkl_rt
# The three source builds share one venv and one NumPy build: the dynamic linker
# binds NumPy's cblas_* and LAPACK calls to the first library that defines them, and
# LD_PRELOAD puts BLIS or MKL first.  Before the runs each build's check line shows
# the file that serves cblas_dgemm (`mnistref.blas.gemm_library`, what `mnistref
# bench` records as `gemm_library`) and a 1000x1000 float64 GEMM rate; the script
# stops if the file is not the one the build asked for.  The source builds need
# Debian's packages (installed with apt-get when run as root) and a C/C++ compiler;
# NumPy is built once per WORKDIR.
#
# WORKDIR (default /tmp/mnistref-builds) gets the venvs and the reports NAME.json
# (NAME: numpy-VERSION, netlib, blis, mkl), compare-NAME.txt, checks.txt and
# builds.md.  Builds default to 2.4.6 2.2.6 2.0.2.  PASSES (default 3) runs of one
# round each per build, in the order A B C, C B A, A B C, ...: load that drifts over
# minutes on a shared machine then falls on every build alike, where builds measured
# one after the other would each get their own minutes.  Extra `mnistref bench`
# options go in BENCH_ARGS (default: --dtype float32,float64 --batch 64,128 --load
# idle --no-torch --no-memory --epoch-rows 7680).  Measured on 2 cores (AMD EPYC,
# shared), venvs already made: 3 wheels x 3 passes 9-10 minutes at load average
# 4-6 (about 1 minute per run); `benchmarks/compare_builds.sh /tmp/mnistref-builds
# 2.4.6 blis mkl netlib` (4 builds x 3 passes, these default rows) 11 min 51 s at
# load average 1-3: 3 minutes per netlib run, 13-37 s per run of the others.  A
# fresh WORKDIR adds 1-2 minutes per wheel venv and, for the source builds, 11
# minutes to build NumPy (at load average 5) and 1 minute to install MKL.
# BENCH_ARGS="--quick --dtype float32,float64 --batch 64,128 --rows 4096
# --epoch-rows 2048 --load idle --no-torch --no-memory" cut the same 4 builds to
# 4 min 28 s (3 rounds per run, smaller matrices, 33 s per netlib run).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/mnistref-builds}"
shift || true
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(2.4.6 2.2.6 2.0.2)
passes="${PASSES:-3}"
read -r -a bench_args <<< "${BENCH_ARGS:---dtype float32,float64 --batch 64,128 --load idle --no-torch --no-memory --epoch-rows 7680}"
src_numpy="${SRC_NUMPY:-2.4.6}"
mkl_version="${MKL_VERSION:-2025.*}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
src_env="$work/venv-numpy-$src_numpy-src"

# Each build's report name, venv, run-time environment and the file expected to
# serve cblas_dgemm (a substring of its real path).
declare -A name_of venv_of env_of expect_of
need_src=0
need_mkl=0
multiarch=""
for b in "${builds[@]}"; do
    case "$b" in
        netlib | blis | mkl)
            need_src=1
            [ "$b" != mkl ] || need_mkl=1
            name_of[$b]="$b"
            venv_of[$b]="$src_env"
            ;;
        wheel:[0-9]* | [0-9]*)
            v="${b#wheel:}"
            name_of[$b]="numpy-$v"
            venv_of[$b]="$work/venv-numpy-$v"
            env_of[$b]=""
            expect_of[$b]="numpy.libs/libscipy_openblas"
            ;;
        *)
            echo "compare_builds.sh: unknown build '$b' (VERSION, wheel:VERSION, netlib, blis or mkl)" >&2
            exit 2
            ;;
    esac
done

if ((need_src)); then
    # Debian's packages: the reference BLAS and LAPACK NumPy is built against, BLIS.
    have() {
        command -v gcc > /dev/null && command -v g++ > /dev/null && command -v pkg-config > /dev/null \
            && pkg-config --exists blas-netlib \
            && [ -e "/usr/lib/$(gcc -print-multiarch)/lapack/liblapack.so.3" ] \
            && [ -e "/usr/lib/$(gcc -print-multiarch)/libblis.so.4" ]
    }
    if ! have; then
        pkgs=(gcc g++ pkg-config libblas-dev liblapack-dev libblis-dev)
        if [ "$(id -u)" != 0 ]; then
            echo "compare_builds.sh: the source builds need: sudo apt-get install ${pkgs[*]}" >&2
            exit 2
        fi
        echo "== apt-get install ${pkgs[*]}"
        apt-get install -y "${pkgs[@]}" > "$work/apt.log" 2>&1 \
            || { apt-get update > /dev/null && apt-get install -y "${pkgs[@]}" > "$work/apt.log" 2>&1; }
    fi
    multiarch="$(gcc -print-multiarch)"
    lib="/usr/lib/$multiarch"
    # The reference BLAS and LAPACK by their own folders: the plain libblas.so.3 is a
    # Debian alternative that installing BLIS points to BLIS.
    base="LD_LIBRARY_PATH=$lib/blas:$lib/lapack"
    env_of[netlib]="$base"
    expect_of[netlib]="$lib/blas/libblas.so"
    env_of[blis]="$base LD_PRELOAD=$lib/libblis.so.4"
    expect_of[blis]="libblis.so"
    # libmkl_rt finds MKL's other libraries and Intel's OpenMP in its own folder.
    env_of[mkl]="$base LD_PRELOAD=$src_env/lib/libmkl_rt.so.2"
    expect_of[mkl]="libmkl_rt.so"
    if [ ! -x "$src_env/bin/mnistref" ]; then
        echo "== numpy $src_numpy from source against the reference BLAS: building into $src_env"
        # Debian's lapack-netlib.pc requires a blas.pc that the BLAS alternatives may not provide.
        mkdir -p "$work/pkgconfig"
        sed 's/^Name: .*/Name: blas/' "$(pkg-config --variable=pcfiledir blas-netlib)/blas-netlib.pc" \
            > "$work/pkgconfig/blas.pc"
        python3 -m venv "$src_env"
        PKG_CONFIG_PATH="$work/pkgconfig" "$src_env/bin/pip" install --quiet --no-cache-dir \
            --no-binary numpy "numpy==$src_numpy" -Csetup-args=-Dblas=blas-netlib \
            -Csetup-args=-Dlapack=lapack-netlib -Csetup-args=-Dallow-noblas=false
        "$src_env/bin/pip" install --quiet "$repo"
    fi
    if ((need_mkl)) && [ ! -e "$src_env/lib/libmkl_rt.so.2" ]; then
        echo "== mkl $mkl_version into $src_env"
        "$src_env/bin/pip" install --quiet "mkl==$mkl_version"
    fi
fi

for b in "${builds[@]}"; do
    env="${venv_of[$b]}"
    if [ ! -x "$env/bin/mnistref" ]; then
        echo "== numpy ${b#wheel:}: installing into $env"
        python3 -m venv "$env"
        "$env/bin/pip" install --quiet "numpy==${b#wheel:}" "$repo"
    fi
done

# Run the repo's mnistref in build $1's venv and environment: only NumPy's BLAS differs.
run() {
    local b="$1"
    shift
    local -a vars
    read -r -a vars <<< "${env_of[$b]}"
    env "${vars[@]}" PYTHONPATH="$repo" "${venv_of[$b]}/bin/python" "$@"
}

echo "== which library serves cblas_dgemm in each build"
: > "$work/checks.txt"
for b in "${builds[@]}"; do
    run "$b" - "${name_of[$b]}" "${expect_of[$b]}" <<'PY' | tee -a "$work/checks.txt"
import sys

import numpy as np

from mnistref import blas

name, expect = sys.argv[1:]
lib = blas.gemm_library()
rate = blas.gemm_rate(1000, dtype=np.float64, repeat=3)
line = blas.describe().replace(f", cblas_dgemm from {lib}", "")
print(f"{name}: cblas_dgemm from {lib}; {line}; 1000x1000 float64 {rate:.1f} GFLOP/s")
if expect not in (lib or ""):
    sys.exit(f"{name}: cblas_dgemm comes from {lib}, not from {expect}")
PY
done

# An earlier run's passes must not be pooled with this run's.
for b in "${builds[@]}"; do rm -f "$work/${name_of[$b]}".pass*.json; done

for ((p = 1; p <= passes; p++)); do
    order=("${builds[@]}")
    if ((p % 2 == 0)); then
        order=()
        for ((i = ${#builds[@]} - 1; i >= 0; i--)); do order+=("${builds[i]}"); done
    fi
    for b in "${order[@]}"; do
        n="${name_of[$b]}"
        echo "== pass $p, $n: mnistref bench --repeat 1 ${bench_args[*]}"
        run "$b" -m mnistref bench --repeat 1 "${bench_args[@]}" \
            --json "$work/$n.pass$p.json" > "$work/bench-$n.pass$p.txt"
    done
done

# Pool each build's passes into one report (the repo's mnistref: the same code for all).
for b in "${builds[@]}"; do
    n="${name_of[$b]}"
    PYTHONPATH="$repo" "${venv_of[$b]}/bin/python" - "$work/$n.json" "$work/$n".pass*.json <<'PY'
import sys

from mnistref import bench

out, *runs = sys.argv[1:]
bench.save(bench.merge([bench.load(p) for p in runs]), out)
PY
done

first="${builds[0]}"
py="${venv_of[$first]}/bin/python"
for b in "${builds[@]:1}"; do
    echo "== ${name_of[$first]} vs ${name_of[$b]}"
    PYTHONPATH="$repo" "$py" -m mnistref bench --compare \
        "$work/${name_of[$first]}.json" "$work/${name_of[$b]}.json" | tee "$work/compare-${name_of[$b]}.txt"
done

echo "== all builds, as the table of docs/benchmarks.md"
jsons=()
for b in "${builds[@]}"; do jsons+=("$work/${name_of[$b]}.json"); done
PYTHONPATH="$repo" "$py" - "${jsons[@]}" <<'PY' | tee "$work/builds.md"
import sys
from pathlib import Path

from mnistref import bench

paths = sys.argv[1:]
names = [Path(p).stem.replace("numpy-", "numpy ") for p in paths]
print(bench.format_builds_markdown([bench.load(p) for p in paths], names))
PY
echo "== done in $((SECONDS / 60)) min $((SECONDS % 60)) s"
