"""`keep_checkpoints`: a search keeps the checkpoints of its best trials and of
those in use, deletes the rest as trials end, crash-safely, and its best
model and genetic-hyperband's promotions still find the checkpoints they read."""

from __future__ import annotations

import glob
import json
import os

import keras
import numpy as np
import pytest
from helpers import evokt
from helpers import trial_statuses
from test_genetic_hyperband import RecordingHyperModel

from evokt.oracles.genetic_hyperband import PARENT_TRIAL
from evokt.oracles.genetic_hyperband import GeneticHyperband
from evokt.oracles.retention import checkpoints_needed
from evokt.oracles.retention import retire_checkpoints
from evokt.oracles.trials import recommended_trials
from evokt.search.errors import SpecError
from evokt.search.layout import BEST_FILE
from evokt.search.layout import MODEL_FILE
from evokt.search.observe import SearchObserver
from evokt.search.pipeline import run_search
from evokt.search.spec import SearchSpec

CHECKPOINT = "checkpoint.weights.h5"


def checkpointed(project_dir) -> set[str]:
    """The ids of the trials whose checkpoint is on disk."""
    return {os.path.basename(os.path.dirname(path))[len("trial_"):]
            for path in glob.glob(os.path.join(str(project_dir), "trial_*", CHECKPOINT))}


class CheckpointCounter(SearchObserver):
    """Records, at every trial's end, which trials have checkpoints on disk."""

    def __init__(self, project_dir):
        self.project_dir = project_dir
        self.on_disk: list[set[str]] = []

    def trial_ended(self, oracle, trial) -> None:
        self.on_disk.append(checkpointed(self.project_dir))


def test_a_search_keeps_the_best_k_checkpoints_and_its_export_works(tmp_path):
    project, output = tmp_path / "search", tmp_path / "model"
    counter = CheckpointCounter(project)
    spec = SearchSpec(dataset="iris", max_trials=8, epochs=1, keep_checkpoints=2)
    outcome = run_search(spec, str(project), str(output), observer=counter)

    oracle = outcome.tuner.oracle
    assert len(oracle.end_order) == 8 and len(counter.on_disk) == 8
    # One process: at a trial's end nothing runs, so only the best two stay.
    assert all(len(on_disk) <= 2 for on_disk in counter.on_disk), counter.on_disk
    best_two = {trial.trial_id for trial in recommended_trials(oracle)[:2]}
    assert checkpointed(project) == best_two
    # The rest of each trial stays: a summary and a resume need it.
    assert len(glob.glob(str(project / "trial_*" / "trial.json"))) == 8
    best = json.loads((output / BEST_FILE).read_text())
    assert best["trial_id"] in best_two
    model = keras.saving.load_model(output / MODEL_FILE)
    rows = outcome.dataset.x_val[:5]
    assert model.predict(rows, verbose=0).shape == (5, 3)
    np.testing.assert_allclose(outcome.tuner.get_best_models(1)[0].predict(rows, verbose=0),
                               model.predict(rows, verbose=0), rtol=1e-5, atol=1e-6)

    # A ranking can move after a trial's checkpoint went: its model is then
    # retrained from its configuration, not lost.
    os.unlink(project / f"trial_{best['trial_id']}" / CHECKPOINT)
    with pytest.warns(UserWarning, match="checkpoint was deleted"):
        retrained = outcome.tuner.get_best_models(1)[0]
    assert retrained.predict(rows, verbose=0).shape == (5, 3)


def test_keep_checkpoints_is_checked_where_it_is_given(tmp_path):
    with pytest.raises(SpecError, match="keep_checkpoints: must be an integer from 1"):
        SearchSpec(dataset="iris", keep_checkpoints=0)
    with pytest.raises(ValueError, match="`keep_checkpoints` must be None"):
        GeneticHyperband(RecordingHyperModel(), objective="val_loss", keep_checkpoints=True,
                         directory=str(tmp_path), project_name="p")


class RecordingGeneticHyperband(GeneticHyperband):
    """Records whether each promotion found its parent's checkpoint, and at
    each trial's end the checkpoints on disk and those retention must keep."""

    def __init__(self, *args, **kwargs):
        self.parents_found: list[bool] = []
        self.on_disk: list[tuple[set[str], set[str]]] = []
        super().__init__(*args, **kwargs)

    def _build_hypermodel(self, hp):
        parent = hp.values.get(PARENT_TRIAL)
        if parent is not None:
            self.parents_found.append(self.has_checkpoint(parent))
        return super()._build_hypermodel(hp)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.on_disk.append((checkpointed(self.project_dir),
                             checkpoints_needed(self.oracle, self.keep_checkpoints)))


def genetic_hyperband(tmp_path, budget: int, keep: int | None) -> RecordingGeneticHyperband:
    return RecordingGeneticHyperband(
        RecordingHyperModel(), objective="val_loss", max_epochs=3, factor=3,
        max_epochs_budget=budget, population_size=4, seed=1, keep_checkpoints=keep,
        directory=str(tmp_path), project_name="search")


def search(tuner: RecordingGeneticHyperband) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32")
    tuner.search(x, y, validation_data=(x, y), epochs=100, batch_size=16, verbose=0)


def test_genetic_hyperband_promotes_from_kept_checkpoints_and_resumes_a_delete_cut_short(
        tmp_path):
    first = genetic_hyperband(tmp_path, budget=10, keep=None)
    search(first)
    ended = set(first.oracle.end_order)
    assert checkpointed(first.project_dir) == ended  # None keeps every checkpoint

    # The same search, now keeping 2, is killed in the middle of its first
    # deletions: the decision is saved, one file of it is gone, the rest not.
    cut_short = genetic_hyperband(tmp_path, budget=24, keep=2)
    retired = retire_checkpoints(cut_short.oracle, 2, {}, cut_short.has_checkpoint)
    assert len(retired) >= 2
    os.unlink(cut_short._get_checkpoint_fname(retired[0]))

    resumed = genetic_hyperband(tmp_path, budget=24, keep=2)
    search(resumed)
    oracle = resumed.oracle
    trials = oracle.trials.values()
    assert all(trial.status == "COMPLETED" for trial in trials), \
        [(trial.trial_id, trial.status, trial.message) for trial in trials]
    promoted_now = [trial for trial in trials if trial.trial_id not in ended
                    and PARENT_TRIAL in trial.hyperparameters.values]
    assert promoted_now, "the resumed search promoted no trial"
    assert resumed.parents_found and all(resumed.parents_found)
    assert not {trial.hyperparameters.values[PARENT_TRIAL] for trial in promoted_now} \
        & set(retired), "a trial whose checkpoint went was promoted"
    # At every trial's end only the best two and what a promotion may read
    # next are on disk, a fraction of the trials.
    for on_disk, needed in resumed.on_disk:
        assert on_disk <= needed
    print(len(trials), [len(on_disk) for on_disk, _ in resumed.on_disk])
    assert len(checkpointed(resumed.project_dir)) <= len(trials) // 2
    assert not checkpointed(resumed.project_dir) & set(retired)
    assert resumed.get_best_models(1)[0] is not None


def test_with_local_workers_the_chief_deletes_them(tmp_path):
    # Workers' oracles are the chief's, over gRPC: the chief prunes.
    project, output = tmp_path / "search", tmp_path / "model"
    result = evokt("search", "--dataset", "iris", "--max-trials", "5", "--epochs", "1",
                   "--workers", "2", "--keep-checkpoints", "2", "--project-dir", str(project),
                   "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = trial_statuses(project)
    assert len(statuses) == 5 and all(status == "COMPLETED" for status, _, _ in statuses.values())
    kept = checkpointed(project)
    assert len(kept) == 2
    assert json.loads((output / BEST_FILE).read_text())["trial_id"] in kept
