"""The benchmark harness runs end to end on tiny budgets (`run_all.py --quick`)."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quick_benchmarks_run_every_harness_and_print_their_tables():
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run_all.py"), "--quick"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
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
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "ray_scaling.py"), "--workers", "2",
         "--trial-seconds", "0.3", "--rounds", "2", "--skip-real", "--skip-kill"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for engine, oracle in (("ray", "genetic"), ("local", "genetic"), ("ray", "random"),
                           ("ray", "hyperband")):
        match = re.search(rf"^{engine}\s+{oracle}\s+2\s+4\s+(\S+\s+){{4}}(\d\.\d+)\s+",
                          result.stdout, re.MULTILINE)
        assert match and 0 < float(match.group(2)) <= 1.05, (engine, oracle, result.stdout)
