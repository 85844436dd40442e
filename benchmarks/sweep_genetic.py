"""The sweep behind the genetic oracle's defaults, on the three NAS-Bench-201 tables.

For each population size, tournament size, crossover probability, number of
screened candidates and re-evaluation setting, runs the genetic oracle for
`--trials` trials over `--seeds` seeds per table and prints the median final
regret (of the configuration the oracle recommends) on CIFAR-10, CIFAR-100
and ImageNet16-120, ranked by the sum of each median over its goal (0.06,
0.19, 0.40).

    python benchmarks/sweep_genetic.py --populations 20 33 --samples half three-quarters \
        --crossover 0.5 --candidates 1 24 --max-evaluations 1 3 --seeds 30
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tabular  # noqa: E402

TABLES = {"nb201-cifar10": 0.06, "nb201-cifar100": 0.19, "nb201-imagenet": 0.40}
FRACTIONS = {"quarter": 0.25, "half": 0.5, "three-quarters": 0.75, "all": 1.0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--populations", type=int, nargs="+", default=[10, 20, 33])
    parser.add_argument("--samples", nargs="+", default=["quarter", "half", "three-quarters"],
                        choices=list(FRACTIONS))
    parser.add_argument("--crossover", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--candidates", type=int, nargs="+", default=[24])
    parser.add_argument("--max-evaluations", type=int, nargs="+", default=[3])
    parser.add_argument("--reevaluation-share", type=float, nargs="+", default=[0.1])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)

    configs = []
    for population in args.populations:
        for sample in sorted({max(2, int(FRACTIONS[name] * population)) for name in args.samples}):
            for crossover, candidates, evaluations, share in itertools.product(
                    args.crossover, args.candidates, args.max_evaluations, args.reevaluation_share):
                configs.append({"population_size": population, "sample_size": sample,
                                "crossover_prob": crossover, "candidates": candidates,
                                "max_evaluations": evaluations, "reevaluation_share": share})
    jobs = [(table, "genetic", seed, args.trials, options)
            for options in configs for table in TABLES for seed in range(args.seeds)]
    finals: dict[tuple, dict[str, list[float]]] = {}
    for result in tabular.run_many(jobs, args.processes):
        key = tuple(sorted(result["options"].items()))
        finals.setdefault(key, {}).setdefault(result["benchmark"], []).append(result["curve"][-1])
    rows = []
    for key, per_table in finals.items():
        medians = [statistics.median(per_table[table]) for table in TABLES]
        score = sum(m / goal for m, goal in zip(medians, TABLES.values(), strict=True))
        rows.append((score, dict(key), medians))
    print(f"{'population':>10} {'sample':>6} {'crossover':>9} {'cands':>5} {'evals':>5} "
          f"{'share':>5} {'cifar10':>8} {'cifar100':>8} {'imagenet':>8} {'score':>6}")
    for score, options, medians in sorted(rows, key=lambda row: row[0]):
        print(f"{options['population_size']:>10} {options['sample_size']:>6} "
              f"{options['crossover_prob']:>9} {options['candidates']:>5} "
              f"{options['max_evaluations']:>5} {options['reevaluation_share']:>5} "
              + " ".join(f"{m:>8.3f}" for m in medians) + f" {score:>6.2f}")


if __name__ == "__main__":
    main()
