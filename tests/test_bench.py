"""``mnistref bench``: the report's structure, its baselines' correctness, JSON, the command.

No timing is asserted: a tiny run only checks that every row and ratio is
there and consistent.  Speed is measured by ``mnistref bench`` and benchmarks/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mnistref
from mnistref import bench, network
from mnistref.cli import main


@pytest.fixture(scope="module")
def tiny_report() -> dict[str, Any]:
    return bench.run(
        threads=[None, 1],
        rows=300,
        batches=[64, 32],
        epoch_rows=200,
        repeat=2,
        quick=True,
        with_torch=False,
        with_memory=True,
    )


def test_report_has_every_op_and_ratio(tiny_report: dict[str, Any]) -> None:
    ops = {(r["op"], r["threads"], r["shape"]) for r in tiny_report["rows"]}
    for g, (a, b, c) in bench.gemm_shapes(64).items():
        assert (g, "1", f"({a},{b})@({b},{c})") in ops  # 1 thread: the floor's only count
    for name, size in (
        ("GEMM floor step", "m=300"),
        ("engine step", "m=300"),
        ("numpy step", "m=300"),
        ("GEMM floor epoch", "200/64"),
        ("engine epoch", "200/32"),
        ("numpy epoch", "200/32"),
    ):
        assert (name, "auto", size) in ops and (name, "1", size) in ops
    whats = {(q["what"], q["threads"], q["size"]) for q in tiny_report["ratios"]}
    for what in ("engine step / floor", "engine / numpy"):
        assert (what, "auto", "m=300") in whats
    assert ("engine epoch / floor", "1", "200/64") in whats
    targets = {(q["what"], q["size"]): q["target"] for q in tiny_report["ratios"]}
    assert targets["engine step / floor", "m=300"] == 1.05
    assert targets["engine epoch / floor", "200/64"] == 1.15
    assert targets["engine / numpy", "200/64"] == 1.0
    assert targets["numpy epoch / floor", "200/64"] is None
    for q in tiny_report["ratios"]:
        assert q["low"] <= q["value"] <= q["high"]
    for r in tiny_report["rows"]:
        assert r["seconds"] > 0 and len(r["samples"]) == tiny_report["repeat"]
        assert r["load"] == "idle"
        assert r["gflops"] == pytest.approx(r["flops"] / r["seconds"] / 1e9)
    beyond = {(b["size"], b["threads"]) for b in tiny_report["beyond_floor"]}
    assert beyond == {(z, th) for z in ("m=300", "200/64", "200/32") for th in ("auto", "1")}
    auto = tiny_report["engine_threads"]["idle/float32/auto"]
    assert set(auto["threads"]) == {"300", "64", "32"}
    assert tiny_report["engine_threads"]["idle/float32/1"] == {"policy": "fixed", "threads": 1}
    assert tiny_report["memory"]["peak_bytes"] > tiny_report["memory"]["x_bytes"]


def test_floor_is_the_sum_of_the_five_gemms_at_their_better_count(
    tiny_report: dict[str, Any],
) -> None:
    floor = next(r for r in tiny_report["rows"] if r["op"] == "GEMM floor step")
    assert floor["flops"] == bench.step_flops(300)
    gemms = [
        r
        for r in tiny_report["rows"]
        if r["op"] in bench.gemm_shapes(1)
        and r["threads"].startswith("auto:")
        and "300" in r["shape"]
    ]
    assert len(gemms) == 5
    # Per round: the sum of each GEMM at its better count in that round.
    for i in range(tiny_report["repeat"]):
        assert floor["samples"][i] == pytest.approx(sum(g["samples"][i] for g in gemms))
    t = {"g @1": [1.0, 4.0], "g @2": [2.0, 3.0]}
    assert bench._floor_rounds(t, {"g": None}, [1, 2], 2) == (
        [1.0, 3.0],
        {"g": [1.0, 3.0]},
        {"g": 1},
    )
    # Two (m, D, H) products (eq. 5 and 15) and three with K = 10 (eq. 7, 11, 13).
    assert bench.step_flops(300) == 2 * 300 * (2 * 784 * 128 + 3 * 128 * 10)


def test_report_text_and_json_round_trip(tiny_report: dict[str, Any], tmp_path: Path) -> None:
    text = bench.format_report(tiny_report)
    for needle in (
        "BLAS: ",
        "square GEMM rate",
        "% peak",
        "engine step / floor",
        "target <= 1.05",
        "peak memory",
        "load average",
    ):
        assert needle in text
    path = tmp_path / "r.json"
    bench.save(tiny_report, path)
    again = bench.load(path)
    assert again["rows"] == json.loads(json.dumps(tiny_report["rows"]))
    md = bench.format_markdown(again).splitlines()
    assert md[0].startswith("| load | dtype | threads | what | GEMM floor | engine")
    assert len(md[2].split("|")) == len(md[0].split("|"))  # the rows fill every column
    assert any(line.startswith("| idle | float32 | 1 | epoch, batch 32 |") for line in md)
    cmp = bench.format_compare(again, again, ("a.json", "b.json"))
    assert "b.json/a.json" in cmp and "1.000" in cmp
    assert "0 of " in cmp and "differ beyond noise" in cmp


def test_load_rejects_other_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read benchmark report"):
        bench.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json' is not JSON"):
        bench.load(bad)
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a 'mnistref bench --json' report"):
        bench.load(other)
    old = tmp_path / "old.json"
    old.write_text('{"schema": 0, "provenance": {}, "rows": [], "ratios": []}')
    with pytest.raises(ValueError, match="schema 0"):
        bench.load(old)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eq5_20_tutorial_baseline_is_the_reference_step(dtype: Any) -> None:
    """The baseline must be a correct step, or its ratio means nothing.

    It performs the reference's operations in the reference's order (products,
    then /m, then lr *), so the parameters agree exactly; only its loss adds
    1e-12 inside the log, as tutorials do.
    """
    P = mnistref.init(0, dtype=dtype)
    X, y = bench.synthetic(50, dtype)
    tut = [p.copy() for p in P]  # updated in place
    value = bench.tutorial_step(tut, X, y, 0.1)
    Y = network.one_hot(y, 10, dtype=dtype)
    cache = network.forward(P, X)
    want = network.update(P, network.grads(P, X, Y, cache), 0.1)
    for got, w in zip(tut, want, strict=True):
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, w)
    # |log(p + 1e-12) - log(p)| <= 1e-12 / p, p >= ~0.01 here; plus float32 rounding of the sum.
    assert value == pytest.approx(float(mnistref.loss(Y, cache.A2)), rel=1e-5)


@pytest.mark.torch
def test_eq5_20_torch_baseline_is_the_reference_step() -> None:
    pytest.importorskip("torch")
    P = mnistref.init(0, dtype=np.float64)
    X, y = bench.synthetic(40, np.float64)
    tor = bench._Torch(P, X, y, threads=1)
    tor.step(0.1)
    Y = network.one_hot(y, 10)
    want = network.update(P, network.grads(P, X, Y, network.forward(P, X)), 0.1)
    # float64 both sides, different summation orders: ~sqrt(N) u S with N ~ 1000, S ~ 40.
    for got, w in zip(tor.params, want, strict=True):
        np.testing.assert_allclose(got.detach().numpy(), w, rtol=0, atol=1e-12)


def test_command_compare_and_errors(
    tiny_report: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    bench.save(tiny_report, a)
    bench.save(tiny_report, b)
    assert main(["bench", "--compare", str(a), str(b)]) == 0
    assert "b.json/a.json" in capsys.readouterr().out
    assert main(["bench", "--compare", str(a), str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--threads", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["bench", "--dtype", "float16"])


def test_command_runs_a_tiny_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    args = [
        "bench",
        "--quick",
        "--rows",
        "200",
        "--batch",
        "50",
        "--repeat",
        "1",
        "--no-torch",
        "--no-memory",
        "--threads",
        "1",
        "--dtype",
        "float64",
        "--json",
        str(out),
        "--epoch-rows",
        "100",
    ]
    assert main(args) == 0
    assert "engine epoch / floor" in capsys.readouterr().out
    assert bench.load(out)["rows"][0]["dtype"] == "float64"


def _fake(seconds: dict[str, list[float]]) -> dict[str, Any]:
    rows = [
        {
            "op": op,
            "shape": "s",
            "dtype": "float32",
            "threads": "1",
            "load": "idle",
            "seconds": float(np.median(v)),
            "samples": v,
        }
        for op, v in seconds.items()
    ]
    return {"provenance": {}, "load_start": [0.0], "rows": rows, "ratios": []}


def test_compare_says_within_noise_or_which_is_faster() -> None:
    """The verdict follows the ratio against both reports' spread over rounds."""
    a = _fake({"same": [1.0, 1.1, 0.9], "faster": [1.0, 1.01, 0.99], "tight": [1.0] * 3})
    b = _fake({"same": [1.05, 1.0, 1.1], "faster": [0.5, 0.51, 0.49], "tight": [1.01] * 3})
    # "faster": half as long, rounds within 4%: beyond any noise.
    got = {c["row"]["op"]: c for c in bench.compare_rows(a, b)}
    assert got["same"]["verdict"] == "within noise"  # 5% apart, rounds spread 20%
    assert got["same"]["noise"] == pytest.approx(np.hypot(0.2, 0.1 / 1.05))
    assert got["faster"]["verdict"] == "B faster" and got["faster"]["ratio"] == 0.5
    # Identical rounds give no spread: the noise floor still calls 1% equal.
    assert got["tight"]["noise"] == bench.NOISE_FLOOR and got["tight"]["verdict"] == "within noise"
    text = bench.format_compare(a, b, ("old", "new"))
    assert "new faster" in text and "1 of 3 measurements differ beyond noise" in text


def test_sweep_times_every_size_and_draws_a_png(tmp_path: Path) -> None:
    result = bench.sweep(
        sizes=[16, 40], dtypes=[np.float64], repeat=1, min_time=0.0, with_torch=False
    )
    series = result["series"]["float64"]
    assert set(series) == {"floor", "engine", "numpy"}
    assert all(len(v) == 2 and min(v) > 0 for v in series.values())
    assert set(result["engine_threads"]["float64"]["threads"]) == {"16", "40"}
    text = bench.format_sweep(result)
    assert "float64" in text and "x)" in text
    pytest.importorskip("matplotlib")
    png = bench.plot_sweep(result, tmp_path / "s.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_core_busy_spins_a_child_on_one_cpu_and_ends_it() -> None:
    import os

    with bench.one_core_busy(False) as cpu:
        assert cpu is None
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one usable CPU: --load busy measures nothing else")
    import time

    before = os.times().children_user
    with bench.one_core_busy() as cpu:
        assert cpu == max(os.sched_getaffinity(0))
        time.sleep(0.3)
    # A child's CPU time is counted once it has been waited for: it spun, and it ended.
    assert os.times().children_user > before


def test_builds_markdown_has_a_column_per_other_build() -> None:
    a = _fake({"engine step": [1.0, 1.0, 1.0], "other": [1.0] * 3})
    b = _fake({"engine step": [0.5, 0.5, 0.5], "other": [1.0] * 3})
    c = _fake({"engine step": [1.0, 1.01, 0.99], "other": [1.0] * 3})
    md = bench.format_builds_markdown([a, b, c], ["x", "y", "z"]).splitlines()
    assert md[0] == "| op | size | dtype | threads | x | y / x | z / x |"
    assert md[2].startswith("| engine step |") and "0.50 +-0.02 (faster)" in md[2]
    assert "1.00 +-0.02 (within noise)" in md[2]
    assert not any(line.startswith("| other") for line in md)  # not one of the shown ops


def test_merge_pools_rounds_of_one_build_and_refuses_two() -> None:
    a = _fake({"engine step": [1.0, 3.0]})
    b = _fake({"engine step": [2.0]})
    for r, n in ((a, 2), (b, 1)):
        r.update(repeat=n, load_end=[0.0])
        r["provenance"] = {"numpy": "2.4.6", "blas": {"version": "0.3.31"}}
        r["rows"][0]["flops"] = 10
    merged = bench.merge([a, b])
    [row] = merged["rows"]
    assert row["samples"] == [1.0, 3.0, 2.0] and row["seconds"] == 2.0 and row["best"] == 1.0
    assert merged["repeat"] == 3 and merged["merged_runs"] == 2
    b["provenance"] = {"numpy": "2.0.2", "blas": {"version": "0.3.27"}}
    with pytest.raises(ValueError, match="different builds"):
        bench.merge([a, b])


def test_rounds_wait_untimed_after_a_settled_fn(monkeypatch: pytest.MonkeyPatch) -> None:
    """One pool's spinning threads must not land in another's measurement: a settled fn's
    pauses come before and after its timing, at each run of it (warm-up and rounds)."""
    from mnistref.bench import _timing

    events: list[str] = []
    monkeypatch.setattr(_timing.time, "sleep", lambda s: events.append(f"sleep {s}"))
    torch_like = bench.settled(lambda: events.append("torch"), 0.25, 0.125)
    other = lambda: events.append("other")  # noqa: E731
    t = bench._rounds({"torch": torch_like, "other": other}, repeat=2, min_time=0.0)
    warm_up = ["sleep 0.25", "torch", "torch", "sleep 0.125", "other", "other"]
    one_round = ["sleep 0.25", "torch", "sleep 0.125", "other"]
    # Warm-up: an untimed call, then one that sizes the loops; then each round.
    assert events == warm_up + 2 * one_round
    assert all(len(v) == 2 for v in t.values())
