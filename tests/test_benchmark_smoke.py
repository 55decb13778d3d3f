"""Keep ``benchmarks/bench.py`` from rotting: it runs and reports real numbers.

The benchmark runs once in ``--quick`` mode (tiny sizes, one round, Markdown
output) and the tables it prints are read back. What is checked is content that
does not depend on the machine: every case is there, ours and scikit-learn reach
the same training score (ours replays scikit-learn's random draws, so the same
seed and the same number of epochs give the same model), and the throughput
figures are positive and finite. No timing or speed-up is asserted: the machine
is shared, and at these sizes they are noise.
"""

import contextlib
import doctest
import importlib.util
import io
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"
STEP_FLOOR_PATH = BENCH_PATH.with_name("step_floor.py")
TORCH_INSTALLED = importlib.util.find_spec("torch") is not None
TRAINING_CASES = {"small", "wide", "regression", "lbfgs", "sgd"}

# Ours and scikit-learn make the same draws and the same arithmetic up to the
# order of a few sums, so their scores should be equal: the slack of 1e-3 is
# under half a sample of the 300 to 569 training rows. The quick lbfgs run stops
# after 10 iterations, before L-BFGS has amplified last-bit differences into
# different weights (it does by 100 iterations).
SCORE_TOLERANCE = 1e-3
# The torch twin starts from the same weights and takes the same batches, but
# its Adam places epsilon differently and it rounds in its own order.
TORCH_SCORE_TOLERANCE = 0.03


def load_bench(path=BENCH_PATH, name="sknn_benchmark"):
    """Import a benchmark script as a module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def markdown_tables(text):
    """Return the Markdown tables of a report as lists of {column: cell} rows."""
    tables, lines = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            lines.append([cell.strip() for cell in line.strip("|").split("|")])
        elif lines:
            columns, body = lines[0], lines[2:]  # lines[1] is the alignment rule
            tables.append([dict(zip(columns, cells, strict=True)) for cells in body])
            lines = []
    return tables


@pytest.fixture(scope="module")
def bench():
    return load_bench()


@pytest.fixture(scope="module")
def quick_report(bench):
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = bench.main(["--quick", "--repeats", "1", "--no-memory", "--markdown"])
    assert status == 0
    return output.getvalue()


@pytest.fixture(scope="module")
def training_rows(quick_report):
    training_table, _ = markdown_tables(quick_report)
    return {(row["case"], row["system"]): row for row in training_table}


@pytest.fixture(scope="module")
def predict_rows(quick_report):
    _, predict_table = markdown_tables(quick_report)
    return {row["system"]: row for row in predict_table}


def test_the_docstring_examples_hold(bench):
    results = doctest.testmod(bench, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert results.attempted >= 5
    assert results.failed == 0


def test_every_case_and_system_is_reported(training_rows, predict_rows):
    assert {case for case, _ in training_rows} == TRAINING_CASES
    for case in TRAINING_CASES:
        torch_row = "torch LBFGS" if case == "lbfgs" and TORCH_INSTALLED else "torch"
        for system in ("ours", "sklearn", torch_row, "BLAS np.dot"):
            assert (case, system) in training_rows, (case, system)
    assert set(predict_rows) == {"ours", "sklearn", "torch"}


def test_the_header_names_the_machine_and_the_threads(quick_report):
    header = quick_report.split("\n\n")[0]
    assert re.search(r"CPU: .+; \d+ logical cores", header)
    assert "numpy 2." in header or "numpy 1." in header
    assert "scikit-learn" in header
    threads = re.search(r"numpy's BLAS runs (\d+) (threads?)\b", header)
    assert threads and (threads[2] == "thread") == (threads[1] == "1")
    if TORCH_INSTALLED:
        assert re.search(r"torch \(BLAS: .+\) set to \d+ to match", header)


@pytest.mark.parametrize("case", sorted(TRAINING_CASES))
def test_ours_and_sklearn_reach_the_same_training_score(training_rows, case):
    ours = float(training_rows[case, "ours"]["train score"])
    reference = float(training_rows[case, "sklearn"]["train score"])
    assert ours == pytest.approx(reference, abs=SCORE_TOLERANCE)
    # A score near chance would make the comparison empty: the quick runs learn.
    assert ours > 0.3


@pytest.mark.skipif(not TORCH_INSTALLED, reason="PyTorch is not installed")
@pytest.mark.parametrize("case", ["small", "wide", "regression", "sgd"])
def test_the_torch_twin_trains_to_the_same_score(training_rows, case):
    ours = float(training_rows[case, "ours"]["train score"])
    twin = float(training_rows[case, "torch"]["train score"])
    assert twin == pytest.approx(ours, abs=TORCH_SCORE_TOLERANCE)


def test_gflops_and_blas_shares_are_positive_and_finite(training_rows):
    for key, row in training_rows.items():
        if row["s/epoch"] == "PyTorch not installed":
            continue
        gflops = float(row["GFLOP/s"])
        share = float(row["% of BLAS"].rstrip("%"))
        assert math.isfinite(gflops) and gflops > 0, key
        assert math.isfinite(share) and share > 0, key
        if row["system"] == "BLAS np.dot":
            assert row["% of BLAS"] == "100%"


def test_predict_reports_latency_throughput_and_agreement(predict_rows, quick_report):
    for system in ("ours", "sklearn") + (("torch",) if TORCH_INSTALLED else ()):
        latency = float(predict_rows[system]["1-row latency µs"])
        throughput = float(predict_rows[system]["rows/s"].replace(",", ""))
        assert math.isfinite(latency) and latency > 0, system
        assert math.isfinite(throughput) and throughput > 0, system
    # Ours and scikit-learn fit the same model; torch carries our weights.
    agreement = re.search(r"predictions equal to ours: (.*)\.", quick_report)
    shares = dict(re.findall(r"(\w+) ([\d.]+)%", agreement.group(1)))
    assert float(shares["sklearn"]) == 100.0
    if TORCH_INSTALLED:
        assert float(shares["torch"]) >= 99.0


def test_the_memory_probe_sees_the_fit_working_memory(bench):
    # The wide network holds 535,818 float64 parameters (4.1 MiB); a fit keeps
    # at least the weights' gradient and Adam's two moments besides them.
    peak_mib = bench.peak_memory("wide", "ours", "float64", quick=True)
    assert math.isfinite(peak_mib)
    assert 3 * 4.1 < peak_mib < 500


# Run the benchmark in a Python where "import torch" fails as if PyTorch were
# not installed: a finder placed first refuses torch and its submodules.
WITHOUT_TORCH = """
import runpy, sys

class RefuseTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, RefuseTorch())
sys.argv = [BENCH, "--quick", "--repeats", "1", "--cases", "lbfgs,predict",
            "--no-memory", "--markdown"]
runpy.run_path(BENCH, run_name="__main__")
"""


def test_the_script_runs_without_torch():
    runner = f"BENCH = {str(BENCH_PATH)!r}\n{WITHOUT_TORCH}"
    completed = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    training_table, predict_table = markdown_tables(completed.stdout)
    torch_rows = [row for row in training_table if row["system"] == "torch"]
    assert [row["s/epoch"] for row in torch_rows] == ["PyTorch not installed"]
    predict_torch = [row for row in predict_table if row["system"] == "torch"]
    assert predict_torch[0]["1-row latency µs"] == "PyTorch not installed"
    assert "torch: PyTorch not installed" in completed.stdout


# benchmarks/step_floor.py


@pytest.fixture(scope="module")
def step_floor():
    return load_bench(STEP_FLOOR_PATH, "sknn_step_floor")


def test_step_floor_reports_every_operation_and_the_bounds(step_floor):
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = step_floor.main(["--quick", "--repeats", "1"])
    report = output.getvalue()

    assert status == 0
    Y = np.eye(10)[np.arange(300) % 10]
    operations = step_floor.step_operations(np.ones((300, 64)), Y)
    microseconds = {}
    for name in operations:
        match = re.search(rf"^{re.escape(name)}\s+([0-9.]+)$", report, re.MULTILINE)
        assert match, name
        microseconds[name] = float(match.group(1))
    assert sum(name.count("@") for name in operations) == 5
    floor = float(re.search(r"floor: all operations above\s+([0-9.]+)", report)[1])
    assert floor == pytest.approx(sum(microseconds.values()), abs=0.1 * len(operations))
    for line in ("ours over the floor", "of ours", "at the floor, at most"):
        ratio = float(re.search(rf"{line}: ([0-9.]+)x", report)[1])
        assert 0 < ratio < math.inf


def test_repeating_a_step_operation_keeps_its_values_finite(step_floor):
    # An operation repeated in place on its own output would drift into
    # overflow or denormals and time another computation than the step's.
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, (300, 64))
    Y = np.eye(10)[rng.integers(0, 10, 300)]
    with np.errstate(all="raise"):
        for name, operation in step_floor.step_operations(X, Y).items():
            for _ in range(2000):
                result = operation()
            assert np.all(np.isfinite(result)), name
