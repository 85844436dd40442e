"""The seed each method gets in a benchmark's run: runs far apart.

KerasTuner's random sampling seeds a fresh generator per value from a counter
that starts at the oracle's seed, so oracles seeded s and s + (number of
hyperparameters) propose the same configurations one trial apart (seeds 0..19
under `tabular.py`'s `seed + 1` are 6 distinct proposal sequences on
NAS-Bench-201), and it
takes a seed of 0 for no seed at all. Runs seeded `SEED_STRIDE` apart, from 1,
never share a counter value.
"""

from __future__ import annotations

SEED_STRIDE = 2**20


def search_seed(run: int) -> int:
    """The seed every method gets in one run of a benchmark.

    Args:
        run: The run's number: 0, 1, ...
    """
    return 1 + run * SEED_STRIDE
