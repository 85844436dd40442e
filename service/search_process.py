"""One search, in its own process: `python -m evokt.service.search_process DATA_DIR SEARCH_ID`.

The runner starts one of these per running search. It runs the search
through `evokt.search.run_search` (the code path of `evokt search`),
records every trial in the job store, and on success registers the best
model as a new version of the requested model. A search whose project
directory already holds state is resumed, so a process killed at any moment
is simply started again.

When the data directory's disk has less than `EVOKT_MIN_FREE_BYTES` free
before a trial, or is full during one, the process exits with `EXIT_PAUSED`
and the trial left running: the runner starts it again once there is room,
and it runs that trial again.

With `EVOKT_RAY_ADDRESS` set, every search's workers (`workers`, 1 included)
run on that Ray cluster, each asking for the search's `worker_resources`;
the chief stays in this process and writes where they run to the project's
`workers.json`, which `GET /v1/searches/{id}` shows.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Mapping

import keras_tuner
from keras_tuner.engine import trial as trial_module

from evokt.files import write_json_atomically
from evokt.hypermodels.errors import EvoktError
from evokt.oracles.constraints import Constraints
from evokt.oracles.early_stopping import stopped_epoch
from evokt.oracles.pareto import metric_at_best_step
from evokt.oracles.pareto import objective_value
from evokt.oracles.pareto import objectives_of
from evokt.oracles.trials import best_scored_trial
from evokt.oracles.trials import has_score
from evokt.oracles.trials import reevaluations_in
from evokt.search.distributed import Distribution
from evokt.search.errors import DiskFullError
from evokt.search.layout import SPEC_FILE
from evokt.search.observe import SearchObserver
from evokt.search.pipeline import run_search
from evokt.search.spec import SearchSpec
from evokt.service import config
from evokt.service.disk import EXIT_PAUSED
from evokt.service.disk import failed_for_space
from evokt.service.disk import low_space
from evokt.service.epochs import finite_metrics
from evokt.service.epochs import trial_epochs
from evokt.service.layout import DataLayout
from evokt.service.recovery import REQUEST_FILE
from evokt.service.recovery import record_ending
from evokt.service.store import FAILED
from evokt.service.store import RUNNING
from evokt.service.store import RUNNING_TRIAL
from evokt.service.store import STOPPED_TRIAL
from evokt.service.store import JobStore
from evokt.service.tracking import tracked
from evokt.service.versions import register_model


class StoreObserver(SearchObserver):
    """Records each trial (running, each of its epochs, ended) and the search's
    progress in the job store.

    Args:
        store: The job store.
        search_id: The search being run.
        constraints: The search's constraints, which the best trial meets.
        min_free_bytes: Free bytes the data directory's disk must have for a
            trial to start; below, the search stops with `DiskFullError`.
    """

    def __init__(self, store: JobStore, search_id: str, constraints: Constraints = None,
                 min_free_bytes: int = 0):
        self.store = store
        self.search_id = search_id
        self.constraints = constraints
        self.min_free_bytes = min_free_bytes

    def search_started(self, oracle: keras_tuner.Oracle) -> None:
        # A process that stopped between the oracle's record of a trial and
        # the job store's (killed, or the disk full) left the store behind.
        recorded = {trial["trial_id"] for trial in self.store.trials(self.search_id)}
        for trial_id in oracle.end_order:
            if trial_id not in recorded:
                self.trial_ended(oracle, oracle.trials[trial_id])

    def trial_started(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        reason = low_space(self.store.data_dir, self.min_free_bytes)
        if reason is not None:
            raise DiskFullError(reason)
        self.store.start_trial(self.search_id, trial.trial_id, trial.hyperparameters.values)

    def epoch_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial, epoch: int,
                    metrics: dict[str, float]) -> None:
        # The trial's status at this epoch: a distributed search's chief may hear of
        # the epoch after the trial has ended.
        status = STOPPED_TRIAL if stopped_epoch(trial) == epoch else RUNNING_TRIAL
        self.store.record_epoch(self.search_id, trial.trial_id, trial.hyperparameters.values,
                                epoch, finite_metrics(metrics), status)

    def trial_ended(self, oracle: keras_tuner.Oracle, trial: trial_module.Trial) -> None:
        best = best_scored_trial(oracle, self.constraints)
        objectives = objectives_of(oracle.objective)
        self.store.record_trial(
            self.search_id,
            {
                "trial_id": trial.trial_id,
                "reevaluates": reevaluations_in(oracle.get_state()).get(trial.trial_id),
                "status": trial.status,
                "score": objective_value(trial, objectives[0]) if has_score(trial) else None,
                "hyperparameters": trial.hyperparameters.values,
                "message": trial.message,
                "ended": time.time(),
                "metrics": {name: metric_at_best_step(trial, name)
                            for name in trial.metrics.metrics},
            },
            {
                "trials_done": len(oracle.end_order),
                "objective": objectives[0].name,
                "direction": objectives[0].direction,
                "objectives": [{"name": objective.name, "direction": objective.direction}
                               for objective in objectives],
                "best_score": objective_value(best, objectives[0]) if best else None,
                "best_trial": best.trial_id if best else None,
                "best_hyperparameters": best.hyperparameters.values if best else None,
            },
            epochs=trial_epochs(trial),
        )


def search_distribution(spec: SearchSpec, environ: Mapping[str, str]) -> Distribution | None:
    """How the search's chief runs its workers.

    Args:
        spec: The search.
        environ: The environment, where `EVOKT_RAY_ADDRESS` names the Ray cluster.

    Returns:
        `spec.workers` workers on the Ray cluster when `EVOKT_RAY_ADDRESS` is
        set; else None: local processes when the spec asks for several, as
        `evokt search --workers` runs them.
    """
    address = config.setting("RAY_ADDRESS", environ).strip()
    if not address:
        return None
    return Distribution(local_workers=spec.workers, ray_address=address)


def run(data_dir: str, search_id: str) -> int:
    """Runs one search to its end; returns the process exit status."""
    store = JobStore(data_dir)
    layout = DataLayout(data_dir)
    record = store.search(search_id)
    if record is None or record["state"] != RUNNING:
        return 0
    project_dir = layout.search_dir(search_id)
    resume = os.path.exists(os.path.join(project_dir, SPEC_FILE))
    if not resume:
        # A process killed before it saved the spec left nothing to resume.
        shutil.rmtree(project_dir, ignore_errors=True)
    try:
        os.makedirs(layout.search_folder(search_id), exist_ok=True)
        # What the job store knows of the search and its project does not, for
        # `evokt store rebuild`.
        write_json_atomically(
            os.path.join(layout.search_folder(search_id), REQUEST_FILE),
            {"dataset": record["dataset"], "model_name": record["model_name"],
             "started": record["started"]})
        # Logged where the server's settings say (a resumed search: as it began).
        spec = tracked(SearchSpec.from_dict(record["spec"]), search_id, os.environ)
        # Trials this search's previous process left running start again.
        store.forget_running_trials(search_id)
        floor = config.setting("MIN_FREE_BYTES", os.environ)
        run_search(
            None if resume else spec,
            project_dir,
            layout.export_dir(search_id),
            resume=resume,
            observer=StoreObserver(store, search_id, spec.constraints, floor),
            distribution=search_distribution(spec, os.environ),
            name=record["model_name"],
        )
        register_model(store, layout, search_id, record["model_name"],
                       layout.export_dir(search_id))
    except Exception as error:
        if isinstance(error, DiskFullError) or failed_for_space(error, data_dir):
            print(f"evokt: the search pauses, the disk is full: {error}", file=sys.stderr)
            return EXIT_PAUSED
        if not isinstance(error, EvoktError):
            raise
        store.set_state(search_id, FAILED, expected=(RUNNING,), error=str(error))
        record_ending(layout, search_id, FAILED, str(error))
        return 1
    return 0


def main() -> None:
    data_dir, search_id = sys.argv[1:3]
    sys.exit(run(data_dir, search_id))


if __name__ == "__main__":
    main()
