"""Disk use of a search's checkpoints, with and without `keep_checkpoints`.

KerasTuner keeps every trial's best-epoch weights; with `keep_checkpoints=K`
an evokt search keeps the best K trials' and those still in use. This runs
the same CNN search on `digits` (1 epoch a trial) twice, keeping all
checkpoints and keeping K, through the pipeline `evokt search` runs, and
reports for each: the checkpoint files and their bytes at the end, the most
files on disk at any trial's end, the whole project directory's bytes and
the wall time. The issue's goal: a 100-trial search with K = 5 keeps at most
5 trials' checkpoints plus those in use (none, at a trial's end in one
process).

    python benchmarks/checkpoint_retention.py --trials 100 --keep 5
    python benchmarks/checkpoint_retention.py --quick      # 8 trials, K = 2
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from evokt.search.observe import SearchObserver  # noqa: E402
from evokt.search.pipeline import run_search  # noqa: E402
from evokt.search.spec import SearchSpec  # noqa: E402
from evokt.threads import set_tensorflow_threads  # noqa: E402

CHECKPOINT = "checkpoint.weights.h5"


def checkpoint_files(project_dir: str) -> list[str]:
    return glob.glob(os.path.join(project_dir, "trial_*", CHECKPOINT))


def directory_bytes(directory: str) -> int:
    return sum(os.path.getsize(os.path.join(folder, name))
               for folder, _, names in os.walk(directory) for name in names)


class PeakFiles(SearchObserver):
    """The most checkpoint files on disk at any trial's end."""

    def __init__(self, project_dir: str):
        self.project_dir = project_dir
        self.peak = 0

    def trial_ended(self, oracle, trial) -> None:
        self.peak = max(self.peak, len(checkpoint_files(self.project_dir)))


@dataclass
class Run:
    keep: int | None
    files: int
    checkpoint_bytes: int
    peak_files: int
    project_bytes: int
    seconds: float


def run(trials: int, keep: int | None, seed: int, workdir: str) -> Run:
    project = os.path.join(workdir, f"keep-{keep or 'all'}")
    observer = PeakFiles(project)
    spec = SearchSpec(dataset="digits", hypermodel="cnn", max_trials=trials, epochs=1,
                      seed=seed, keep_checkpoints=keep)
    started = time.monotonic()
    run_search(spec, project, os.path.join(workdir, f"model-{keep or 'all'}"),
               observer=observer)
    files = checkpoint_files(project)
    return Run(keep, len(files), sum(map(os.path.getsize, files)), observer.peak,
               directory_bytes(project), time.monotonic() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100, help="trials of each search")
    parser.add_argument("--keep", type=int, default=5, help="K of keep_checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads")
    parser.add_argument("--quick", action="store_true", help="8 trials, K = 2")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.keep = 8, 2
    set_tensorflow_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="evokt-retention-") as workdir:
        runs = [run(args.trials, keep, args.seed, workdir) for keep in (None, args.keep)]
    print(f"CNN on digits, {args.trials} trials of 1 epoch")
    print(f"{'keep':>6} {'files':>6} {'checkpoint MB':>14} {'peak files':>11} "
          f"{'project MB':>11} {'seconds':>8}")
    for result in runs:
        print(f"{result.keep or 'all':>6} {result.files:>6} "
              f"{result.checkpoint_bytes / 1e6:>14.2f} {result.peak_files:>11} "
              f"{result.project_bytes / 1e6:>11.2f} {result.seconds:>8.0f}")
    full, kept = runs
    share = kept.checkpoint_bytes / max(full.checkpoint_bytes, 1)
    print(f"keep_checkpoints={args.keep}: {share:.1%} of the checkpoint bytes; at most "
          f"{kept.peak_files} files at a trial's end "
          f"(goal: <= {args.keep}: {'met' if kept.peak_files <= args.keep else 'NOT met'})")


if __name__ == "__main__":
    main()
