"""Every evokt benchmark in one command; `--quick` is the test suite's smoke run.

    python benchmarks/run_all.py            # the full runs behind docs/benchmarks.md
    python benchmarks/run_all.py --quick    # the same harnesses on tiny budgets (< 2 min)

The full run writes the anytime-regret plots (and the multi-objective runs'
fronts) into docs/img/ and prints every table; docs/benchmarks.md holds the
figures of the last full run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import multifidelity  # noqa: E402
import multiobjective  # noqa: E402
import proposal_cost  # noqa: E402
import tabular  # noqa: E402
import training  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets, for the smoke test")
    parser.add_argument("--plots", default=os.path.join(os.path.dirname(HERE), "docs", "img"),
                        help="folder for the regret plots (full run only)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.quick:
        print("== tabular benchmarks (quick)")
        tabular.main(["--benchmarks", "nb201-cifar10", "hpolib-naval", "--seeds", "3",
                      "--trials", "30",
                      "--oracles", "genetic", "greedy", "random", "tpe", "bayesian",
                      "--bayesian-seeds", "1", "--bayesian-trials", "12", "--processes", "1"])
        print("== multi-fidelity benchmarks (quick)")
        multifidelity.main(["--benchmarks", "mfh3", "--seeds", "2", "--budget", "5"])
        print("== multi-objective tabular benchmarks (quick)")
        multiobjective.main(["--quick", "--processes", "1"])
        print("== real training (quick)")
        training.main(["--strategies", "genetic", "hyperband", "genetic-hyperband",
                       "--hypermodels", "mlp", "--seeds", "1", "--trials", "2", "--epochs", "1"])
        print("== proposal cost (quick)")
        proposal_cost.main(["--trials", "10", "50", "--repeats", "5",
                            "--oracles", "genetic", "greedy", "random"])
    else:
        print("== tabular benchmarks")
        tabular.main(["--plots", args.plots])
        # KerasTuner's Bayesian oracle takes seconds per proposal: fewer seeds and
        # trials, on the NAS-Bench-201 tables (on HPOLib's nine dimensions it ran
        # for over 20 minutes without finishing 12 runs here).
        tabular.main(["--benchmarks", "nb201-cifar10", "nb201-cifar100", "--oracles", "bayesian",
                      "--no-noise-floor"])
        print("== multi-fidelity benchmarks")
        multifidelity.main(["--plots", args.plots])
        print("== multi-objective tabular benchmarks")
        multiobjective.main(["--plots", args.plots])
        print("== real training")
        training.main([])
        print("== proposal cost")
        proposal_cost.main(["--trials", "10", "100", "1000", "--repeats", "50"])
        proposal_cost.main(["--trials", "10", "100", "--repeats", "3", "--oracles", "bayesian"])
    print(f"== done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
