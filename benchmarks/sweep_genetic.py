"""The sweep behind the genetic oracle's defaults, beside Optuna's TPE.

For each population size, tournament size, crossover probability, number of
screened candidates, re-evaluation setting, mutation scale and share of the
candidates drawn from the model, runs the genetic oracle for
`--trials` trials on every table of `benchmarks/tabular.py` (or those given)
over `--seeds` seeds of each seed set (`--seed-sets`: first seeds, so that
settings chosen on one set can be judged on another), and TPE beside it on
the same tables, seeds and budget. Prints each setting's median final regret
(of the configuration the oracle recommends) per table, pooled over the seed
sets, and how many (table, seed set) cells it is no worse than TPE's median
in; settings are ranked by that count, then by the geometric mean of their
medians over TPE's.

    python benchmarks/sweep_genetic.py --populations 20 33 --samples three-quarters all \
        --seeds 30 --seed-sets 0 1000
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tabular  # noqa: E402

from evokt.oracles.defaults import DEFAULT_CANDIDATES  # noqa: E402
from evokt.oracles.defaults import DEFAULT_CROSSOVER_PROB  # noqa: E402
from evokt.oracles.defaults import DEFAULT_MAX_EVALUATIONS  # noqa: E402
from evokt.oracles.defaults import DEFAULT_MODEL_DRAW_SHARE  # noqa: E402
from evokt.oracles.defaults import DEFAULT_MUTATION_SCALE  # noqa: E402
from evokt.oracles.defaults import DEFAULT_REEVALUATION_SHARE  # noqa: E402
from evokt.oracles.defaults import default_population_size  # noqa: E402

FRACTIONS = {"quarter": 0.25, "half": 0.5, "three-quarters": 0.75, "all": 1.0}


def settings(args: argparse.Namespace) -> list[dict]:
    """Every combination of the options given, as `GeneticOracle` keyword
    arguments.

    Args:
        args: The parsed command line.
    """
    combinations = []
    for population in args.populations:
        for sample in sorted({max(2, int(FRACTIONS[name] * population)) for name in args.samples}):
            for crossover, candidates, evaluations, share, scale, draw in itertools.product(
                    args.crossover, args.candidates, args.max_evaluations,
                    args.reevaluation_share, args.mutation_scale, args.model_draw_share):
                combinations.append({
                    "population_size": population, "sample_size": sample,
                    "crossover_prob": crossover, "candidates": candidates,
                    "max_evaluations": evaluations, "reevaluation_share": share,
                    "mutation_scale": scale, "model_draw_share": draw})
    return combinations


def ratio_to(median: float, reference: float) -> float:
    """`median` over `reference`, with a tenth of the reference added to
    both so that a median of 0 does not make the ratio 0.

    Args:
        median: A setting's median regret.
        reference: TPE's median regret on the same table and seeds.
    """
    if reference == 0:
        return 1.0 if median == 0 else math.inf
    return (median + 0.1 * reference) / (1.1 * reference)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", nargs="+", default=list(tabular.BENCHMARKS),
                        choices=list(tabular.BENCHMARKS))
    # Each option defaults to the genetic oracle's own default at `--trials`.
    parser.add_argument("--populations", type=int, nargs="+")
    parser.add_argument("--samples", nargs="+", default=["all"], choices=list(FRACTIONS))
    parser.add_argument("--crossover", type=float, nargs="+", default=[DEFAULT_CROSSOVER_PROB])
    parser.add_argument("--candidates", type=int, nargs="+", default=[DEFAULT_CANDIDATES])
    parser.add_argument("--max-evaluations", type=int, nargs="+",
                        default=[DEFAULT_MAX_EVALUATIONS])
    parser.add_argument("--reevaluation-share", type=float, nargs="+",
                        default=[DEFAULT_REEVALUATION_SHARE])
    parser.add_argument("--mutation-scale", type=float, nargs="+",
                        default=[DEFAULT_MUTATION_SCALE])
    parser.add_argument("--model-draw-share", type=float, nargs="+",
                        default=[DEFAULT_MODEL_DRAW_SHARE])
    parser.add_argument("--seeds", type=int, default=30, help="seeds per seed set")
    parser.add_argument("--seed-sets", type=int, nargs="+", default=[0],
                        help="the first seed of each set")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    if args.populations is None:
        args.populations = [default_population_size(args.trials)]
    firsts = sorted(args.seed_sets)
    if any(later - earlier < args.seeds
           for earlier, later in zip(firsts, firsts[1:], strict=False)):
        parser.error(f"--seed-sets must be at least --seeds ({args.seeds}) apart")

    seeds = [first + offset for first in args.seed_sets for offset in range(args.seeds)]
    jobs = [(table, "tpe", seed, args.trials) for table in args.benchmarks for seed in seeds]
    jobs += [(table, "genetic", seed, args.trials, options)
             for options in settings(args) for table in args.benchmarks for seed in seeds]
    # (setting, table, seed set) -> final regrets; TPE's setting is "tpe".
    finals: dict[tuple, list[float]] = {}
    for result in tabular.run_many(jobs, args.processes):
        setting = ("tpe" if result["oracle"] == "tpe"
                   else tuple(sorted(result["options"].items())))
        seed_set = max(first for first in args.seed_sets if first <= result["seed"])
        finals.setdefault((setting, result["benchmark"], seed_set), []).append(
            result["curve"][-1])

    def median(setting: tuple | str, table: str,
               seed_sets: tuple[int, ...] = tuple(args.seed_sets)) -> float:
        return statistics.median(regret for seed_set in seed_sets
                                 for regret in finals[(setting, table, seed_set)])

    rows = []
    for setting in {key[0] for key in finals} - {"tpe"}:
        wins = sum(median(setting, table, (seed_set,)) <= median("tpe", table, (seed_set,))
                   for table in args.benchmarks for seed_set in args.seed_sets)
        ratios = [ratio_to(median(setting, table), median("tpe", table))
                  for table in args.benchmarks]
        rows.append((-wins, statistics.geometric_mean(ratios), setting))
    print(f"{len(seeds)} seeds (sets from {args.seed_sets}), {args.trials} trials; "
          f"median final regret per table, pooled over the sets")
    print(f"{'pop':>4} {'samp':>4} {'xo':>4} {'cand':>4} {'eval':>4} {'share':>5} "
          f"{'scale':>5} {'draw':>4} "
          + " ".join(f"{table.split('-', 1)[1][:10]:>10}" for table in args.benchmarks)
          + f" {'wins':>5} {'ratio':>6}")
    print(f"{'Optuna TPE':>43} "
          + " ".join(f"{median('tpe', table):>10.4g}" for table in args.benchmarks))
    for negative_wins, ratio, setting in sorted(rows):
        options = dict(setting)
        print(f"{options['population_size']:>4} {options['sample_size']:>4} "
              f"{options['crossover_prob']:>4} {options['candidates']:>4} "
              f"{options['max_evaluations']:>4} {options['reevaluation_share']:>5} "
              f"{options['mutation_scale']:>5} {options['model_draw_share']:>4} "
              + " ".join(f"{median(setting, table):>10.4g}" for table in args.benchmarks)
              + f" {-negative_wins:>2}/{len(args.benchmarks) * len(args.seed_sets):<2} "
              f"{ratio:>6.3f}")


if __name__ == "__main__":
    main()
