"""K-fold cross-validation of trials, and the refit of the chosen model on all the data."""

import json

import numpy as np
import pytest
from helpers import evokt

from evokt import GeneticSearch
from evokt.hypermodels import MLPHyperModel
from evokt.hypermodels.data import load_builtin
from evokt.oracles.cross_validation import fold_indices


def test_folds_cover_every_row_once_and_keep_class_proportions():
    y = np.array([0] * 30 + [1] * 15 + [2] * 5)
    folds = fold_indices(y, 5, seed=3)
    held_out = np.concatenate([held for _, held in folds])
    assert sorted(held_out) == list(range(50))
    for training, held in folds:
        assert set(training).isdisjoint(held)
        assert np.bincount(y[held]).tolist() == [6, 3, 1]
    assert [list(held) for _, held in fold_indices(y, 5, seed=3)] == \
        [list(held) for _, held in folds]  # the same folds for every trial
    regression = fold_indices(np.linspace(0, 1, 20), 4, seed=0)
    assert sorted(np.concatenate([held for _, held in regression])) == list(range(20))


def test_a_cross_validated_search_scores_on_folds_and_refits_on_all_rows(tmp_path):
    iris = load_builtin("iris").pooled()
    assert len(iris.x_train) == 150 and len(iris.x_val) == 0
    tuner = GeneticSearch(
        MLPHyperModel(iris.input_shape, num_classes=3, max_layers=1,
                      feature_mean=iris.feature_mean, feature_variance=iris.feature_variance),
        objective="val_accuracy", max_trials=2, seed=2, folds=3,
        directory=str(tmp_path), project_name="cv",
    )
    fits = []
    original_fit = tuner.hypermodel.fit

    def counting_fit(hp, model, x, y, **kwargs):
        fits.append((len(x), len(kwargs["validation_data"][0]) if "validation_data" in kwargs
                     else 0, kwargs["epochs"]))
        return original_fit(hp, model, x, y, **kwargs)

    tuner.hypermodel.fit = counting_fit
    tuner.search(iris.x_train, iris.y_train, epochs=2, verbose=0)
    # Two trials of three folds: 100 rows trained on, 50 held out, each time.
    assert fits == [(100, 50, 2)] * 6
    best = tuner.oracle.get_best_trials(1)[0]
    assert 0 <= best.score <= 1 and best.metrics.exists("params")
    model = tuner.get_best_models(1)[0]
    # The refit: all 150 rows, for the best mean epoch's count, no validation.
    assert fits[-1] == (150, 0, best.best_step + 1)
    assert model.predict(iris.x_train[:4], verbose=0).shape == (4, 3)


def test_cli_folds(tmp_path):
    output = tmp_path / "model"
    result = evokt("search", "--dataset", "iris", "--hypermodel", "mlp", "--max-trials", "2",
                   "--epochs", "1", "--folds", "3", "--project-dir", str(tmp_path / "search"),
                   "--output", str(output))
    assert result.returncode == 0, result.stderr
    with open(output / "best.json") as file:
        assert json.load(file)["spec"]["folds"] == 3
    refused = evokt("search", "--dataset", "iris", "--oracle", "hyperband", "--folds", "3",
                    "--project-dir", str(tmp_path / "other"))
    assert refused.returncode == 2
    assert "folds: hyperband trains trials for varying epochs" in refused.stderr


@pytest.mark.parametrize("folds", [0, 11, 2.5, True])
def test_bad_fold_counts_are_refused(folds, tmp_path):
    iris = load_builtin("iris")
    with pytest.raises(ValueError, match="`folds` must be an integer from 1 to 10"):
        GeneticSearch(MLPHyperModel(iris.input_shape, num_classes=3), objective="val_accuracy",
                      folds=folds, directory=str(tmp_path))
