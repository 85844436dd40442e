"""The benchmark harness runs end to end on tiny budgets (`run_all.py --quick`, and the
serving and export benchmarks' own `--quick`)."""

import os
import re
import subprocess
import sys

from evokt.search.formats import FORMATS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_benchmark(script: str, *args: str) -> subprocess.CompletedProcess:
    """`benchmarks/SCRIPT ARGS...` run to its end, its output captured."""
    return subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", script), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_quick_benchmarks_run_every_harness_and_print_their_tables():
    result = run_benchmark("run_all.py", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for oracle in ("genetic", "greedy", "random", "tpe", "bayesian"):
        assert re.search(rf"nb201-cifar10\s+{oracle}\s+\d+\s+30"
                         rf"|nb201-cifar10\s+{oracle}\s+1\s+12", out)
        assert re.search(rf"hpolib-naval\s+{oracle}\s+", out)
    # Hypervolume regret of every method on the quick pairs: 2 seeds x 20 trials,
    # between 0 and the true front's hypervolume (at most 1.21).
    for pair in ("cifar10-size", "protein-size"):
        for method in ("genetic", "random", "nsga2", "tpe"):
            match = re.search(rf"^{pair}\s+{method}\s+2\s+20\s+(\d+\.\d+)", out, re.MULTILINE)
            assert match and 0.0 <= float(match.group(1)) <= 1.21, (pair, method)
    # The noise floor: the 20 best configurations, evaluated once each.
    assert re.search(r"nb201-cifar10\s+noise-floor\s+3\s+1\s+", out)
    # Each table's medians side by side, every method in one row.
    assert re.search(r"^nb201-cifar10(\s+\S+ \(\S+\)){5,}\s*$", out, re.MULTILINE)
    assert re.search(r"mlp\s+genetic\s+1\s+", out) and re.search(r"mlp\s+hyperband\s+1\s+", out)
    assert re.search(r"mlp\s+genetic-hyperband\s+1\s+", out)
    for method in ("genetic-hyperband", "hyperband", "dehb"):
        assert re.search(rf"mfh3\s+{method}\s+2\s+500\s+\d", out)
    assert re.search(r"genetic\s+50\s+\d+\.\d+", out)
    # Neither evokt oracle proposes a configuration twice, re-evaluations apart.
    for line in out.splitlines():
        if re.match(r"(nb201|hpolib|cifar10-size|protein-size)\S*\s+(genetic|greedy)\s", line):
            assert line.split()[-2] == "0.0", line


def test_the_ray_scaling_benchmark_runs_simulated_workers_on_ray_and_locally():
    result = run_benchmark("ray_scaling.py", "--workers", "2", "--trial-seconds", "0.3",
                           "--rounds", "2", "--skip-real", "--skip-kill")
    assert result.returncode == 0, result.stderr[-3000:]
    for engine, oracle in (("ray", "genetic"), ("local", "genetic"), ("ray", "random"),
                           ("ray", "hyperband")):
        match = re.search(rf"^{engine}\s+{oracle}\s+2\s+4\s+(\S+\s+){{4}}(\d\.\d+)\s+",
                          result.stdout, re.MULTILINE)
        assert match and 0 < float(match.group(2)) <= 1.05, (engine, oracle, result.stdout)


def test_the_serve_latency_benchmark_compares_infer_with_predict_on_one_service():
    result = run_benchmark("serve_latency.py", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for endpoint in ("evokt", r"naive model\.predict\(\)"):
        assert re.search(rf"^{endpoint}\s+4\s+\d+\s+\d+\s+\d+\.\d+", out, re.MULTILINE), out
    # The same 16 requests through each protocol, per case, none failed.
    for rows in (1, 100):
        for clients in (1, 4):
            for protocol in (":predict", "/infer"):
                assert re.search(rf"^{protocol}\s+{rows}\s+{clients}\s+16\s+0(\s+\d+\.\d+){{3}}$",
                                 out, re.MULTILINE), (protocol, rows, clients, out)
            assert re.search(rf"^/infer p50 / :predict p50 at {rows} row\(s\), {clients} "
                             r"client\(s\): \d+\.\d+x$", out, re.MULTILINE), out
    assert re.search(r"^goal \(/infer p50 within 1\.2x of :predict with 0 errors at 4 clients\): "
                     r"(met|NOT met)$", out, re.MULTILINE), out


def test_the_export_formats_benchmark_times_every_format_against_keras():
    result = run_benchmark("export_formats.py", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert out.startswith("threads: TensorFlow (SavedModel, Keras) 1 intra-op"), out
    assert re.search(r"^== mlp on breast_cancer .* over 20 calls$", out, re.MULTILINE), out
    # Export time, size and largest difference from Keras, then p50 and p95 (us)
    # and the p50 against both ways of running the Keras model.
    for export_format in FORMATS:
        match = re.search(rf"^{export_format}\s+\d+\.\d+\s+[1-9]\d*\s+(\S+)(\s+\d+\.\d+){{2}}"
                          r"(\s+\d+\.\d+x){2}$", out, re.MULTILINE)
        assert match and float(match.group(1)) <= 1e-5, (export_format, out)
    for baseline in (r"keras tf\.function", r"keras model\(x\)"):
        assert re.search(rf"^{baseline}(\s+-){{3}}(\s+\d+\.\d+){{2}}(\s+\d+\.\d+x){{2}}$", out,
                         re.MULTILINE), (baseline, out)
    assert re.search(r"^goal \(onnxruntime and LiteRT p50 at or below Keras's faster way\): "
                     r"(met|NOT met) \(onnxruntime \d+\.\d+x, LiteRT \d+\.\d+x\)$", out,
                     re.MULTILINE), out
