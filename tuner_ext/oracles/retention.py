"""Which trials' checkpoints a search still needs, for `keep_checkpoints`.

KerasTuner keeps every trial's best-epoch weights (`trial_XX/
checkpoint.weights.h5`) until the project is deleted; a long search of
large networks fills the disk with them. With `keep_checkpoints=K`, an
evokt tuner deletes, as trials end, the checkpoints nobody will read:

- kept are the best K trials, in the order the search recommends them
  (`evokt.oracles.trials.recommended_trials`: the oracle's
  `get_best_trials`, within the constraints; evokt's oracles rank by their
  estimate from re-evaluations), and with several objectives the whole
  Pareto front (the export saves every trial of it);
- and those in use: trials not ended yet (a running trial writes its own, a
  failed one may be retried), the trial a running one continues (Hyperband's
  `tuner/trial_id`), the configuration a running re-evaluation scores again,
  and what the oracle itself will read (`checkpoints_needed()`, as
  `GeneticHyperbandOracle` declares the trials it may promote next, and the
  trials of KerasTuner Hyperband's unfinished brackets).

Deleting is crash-safe: the decision is made under the oracle's lock and
told to the oracle (`checkpoints_deleted(trial_ids)`, so it never promotes
from a deleted checkpoint), the oracle's state is saved, and only then are
the files removed, each by one `unlink`. A search killed in between resumes
with the files it still has and deletes them at its next trial's end.

Rankings move as re-evaluations come in, so a trial whose checkpoint went
may become the recommended one: its model is then retrained from its
configuration (see `EvoktTuner.load_model`).
"""

from __future__ import annotations

from collections.abc import Callable

import keras_tuner
from keras_tuner.engine import trial as trial_module

from evokt import compat
from evokt.oracles.constraints import Constraints
from evokt.oracles.pareto import objectives_of
from evokt.oracles.pareto import pareto_front
from evokt.oracles.trials import recommended_trials
from evokt.oracles.trials import reevaluations_in

TrialStatus = trial_module.TrialStatus

# KerasTuner's Hyperband protocol: the trial whose checkpoint a trial continues.
PARENT_TRIAL = "tuner/trial_id"
_ENDED = (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.INVALID, TrialStatus.STOPPED)


def check_keep_checkpoints(keep_checkpoints: int | None) -> None:
    """Raises ValueError unless `keep_checkpoints` is None or a positive integer.

    Args:
        keep_checkpoints: The `keep_checkpoints` argument given.
    """
    if keep_checkpoints is not None and (
        isinstance(keep_checkpoints, bool) or not isinstance(keep_checkpoints, int)
        or keep_checkpoints < 1
    ):
        raise ValueError(
            f"`keep_checkpoints` must be None (keep all) or a positive integer, "
            f"got {keep_checkpoints!r}.")


def is_ended(trial: trial_module.Trial) -> bool:
    return trial.status in _ENDED


def checkpoints_needed(
    oracle: keras_tuner.Oracle, keep: int, constraints: Constraints = None
) -> set[str]:
    """The ids of the trials whose checkpoints must stay (see the module).

    Args:
        oracle: The search's oracle (the chief's, in a distributed search).
        keep: How many of the best trials keep theirs.
        constraints: The search's upper bounds on metrics.
    """
    ranked = recommended_trials(oracle, constraints)
    needed = {trial.trial_id for trial in ranked[:keep]}
    objectives = objectives_of(oracle.objective)
    if len(objectives) > 1:
        needed.update(trial.trial_id for trial in pareto_front(ranked, objectives))
    state = oracle.get_state()
    reevaluations = reevaluations_in(state)
    for trial in oracle.trials.values():
        if not is_ended(trial):
            needed.add(trial.trial_id)
            needed.add(trial.hyperparameters.values.get(PARENT_TRIAL))
            needed.add(reevaluations.get(trial.trial_id))
    if hasattr(oracle, "checkpoints_needed"):
        needed.update(oracle.checkpoints_needed())
    # KerasTuner's Hyperband promotes only within its unfinished brackets.
    for bracket in state.get("brackets", []):
        for trials in bracket["rounds"]:
            needed.update(info[key] for info in trials for key in ("id", "past_id"))
    needed.discard(None)
    return needed


@compat.synchronized
def retire_checkpoints(
    oracle: keras_tuner.Oracle,
    keep: int,
    constraints: Constraints,
    has_checkpoint: Callable[[str], bool],
) -> list[str]:
    """Decides which ended trials' checkpoints go, and tells the oracle.

    Under the oracle's lock (`evokt.compat.synchronized`), so no trial is
    created, promoted or ended meanwhile; the oracle's state is saved with
    the decision before any file goes.

    Args:
        oracle: The search's oracle.
        keep: How many of the best trials keep their checkpoints.
        constraints: The search's upper bounds on metrics.
        has_checkpoint: Whether a trial still has checkpoint files.

    Returns:
        The ids of the trials whose checkpoint files may now be deleted.
    """
    needed = checkpoints_needed(oracle, keep, constraints)
    retired = [trial_id for trial_id, trial in oracle.trials.items()
               if is_ended(trial) and trial_id not in needed and has_checkpoint(trial_id)]
    if retired and hasattr(oracle, "checkpoints_deleted"):
        oracle.checkpoints_deleted(retired)
        oracle.save()
    return retired
