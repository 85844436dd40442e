import numpy as np
import pytest
from helpers import iris_rows
from helpers import write_csv

from evokt.hypermodels import data


@pytest.mark.parametrize(
    "name,shape,task,classes",
    [
        ("digits", (8, 8, 1), "classification", 10),
        ("iris", (4,), "classification", 3),
        ("wine", (13,), "classification", 3),
        ("breast_cancer", (30,), "classification", 2),
        ("diabetes", (10,), "regression", None),
    ],
)
def test_bundled_datasets_load_split_and_describe_themselves(name, shape, task, classes):
    dataset = data.load_builtin(name)
    assert dataset.input_shape == shape
    assert dataset.task == task
    assert dataset.num_classes == classes
    assert len(dataset.x_val) == pytest.approx(0.2 * dataset.rows, abs=1)
    described = dataset.describe()
    assert described["input_shape"] == list(shape) and described["task"] == task


def test_split_is_seeded_stratified_and_scaling_uses_training_rows_only():
    first, again = data.load_builtin("iris", seed=3), data.load_builtin("iris", seed=3)
    np.testing.assert_array_equal(first.x_val, again.x_val)
    assert not np.array_equal(first.x_val, data.load_builtin("iris", seed=4).x_val)
    assert sorted(np.bincount(first.y_val).tolist()) == [10, 10, 10]
    np.testing.assert_allclose(first.feature_mean, first.x_train.mean(axis=0), rtol=1e-5)
    seen = np.concatenate([first.x_train, first.x_val])
    assert not np.allclose(first.feature_mean, seen.mean(axis=0))


def test_image_scaling_statistics_are_per_channel():
    digits = data.load_builtin("digits")
    assert digits.feature_mean.shape == (1,)
    assert digits.feature_mean[0] == pytest.approx(digits.x_train.mean(), rel=1e-5)


def test_csv_with_string_labels_is_a_classification_with_those_labels(tmp_path):
    path = write_csv(tmp_path / "iris.csv", ["a", "b", "c", "d", "species"], iris_rows())
    dataset = data.load_csv(path, "species")
    assert dataset.task == "classification"
    assert dataset.class_labels == ["setosa", "versicolor", "virginica"]
    assert dataset.feature_names == ["a", "b", "c", "d"]


def test_csv_with_a_continuous_target_is_a_regression(tmp_path):
    rng = np.random.default_rng(0)
    rows = [[x, 2.5 * x + 0.1] for x in rng.normal(size=30)]
    dataset = data.load_csv(write_csv(tmp_path / "r.csv", ["x", "y"], rows), "y")
    assert dataset.task == "regression" and dataset.class_labels is None
    assert dataset.target_std > 0


def test_task_can_be_forced(tmp_path):
    rows = [[i, i % 3] for i in range(30)]
    path = write_csv(tmp_path / "f.csv", ["x", "y"], rows)
    assert data.load_csv(path, "y").task == "classification"
    assert data.load_csv(path, "y", task="regression").task == "regression"


@pytest.mark.parametrize(
    "header,rows,target,message",
    [
        (["x", "y"], [[1, 0]] * 20, "label", "no target column 'label'; columns are x, y"),
        (["x", "y"], [["abc", 0]] + [[1, i % 2] for i in range(20)], "y",
         "line 2: column 'x' is not numeric"),
        (["x", "y"], [[1, i % 2] for i in range(20)] + [["nan", 1]], "y",
         "line 22: column 'x' is nan, not a finite number"),
        (["x", "y"], [[1, i % 2] for i in range(20)] + [["", 1]], "y",
         "line 22: missing value in column 'x'"),
        (["x", "y"], [[i, i % 2] for i in range(5)], "y", "too few rows (5)"),
        (["x", "y"], [[i, "a"] for i in range(20)], "y", "one class only"),
        (["x", "y"], [[i, "a"] for i in range(19)] + [[1, "b"]], "y", "class 'b' has a single row"),
        (["y"], [[i % 2] for i in range(20)], "y", "no feature columns"),
    ],
)
def test_bad_csv_files_get_one_line_errors_naming_the_problem(tmp_path, header, rows, target,
                                                              message):
    path = write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(data.DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        data.load_csv(path, target)


def test_missing_file_and_unknown_dataset(tmp_path):
    with pytest.raises(data.DataError, match="no such file"):
        data.load_csv(str(tmp_path / "none.csv"), "y")
    with pytest.raises(data.DataError, match="unknown dataset 'mnist'"):
        data.load_builtin("mnist")


def test_npz_sequences_and_npz_errors(tmp_path):
    rng = np.random.default_rng(1)
    path = str(tmp_path / "seq.npz")
    np.savez(path, x=rng.normal(size=(40, 6, 3)), y=rng.integers(0, 2, 40))
    dataset = data.load_npz(path)
    assert dataset.input_shape == (6, 3) and dataset.task == "classification"
    assert dataset.feature_mean.shape == (3,)
    missing = str(tmp_path / "missing.npz")
    np.savez(missing, x=rng.normal(size=(40, 3)))
    with pytest.raises(data.DataError, match="missing array y"):
        data.load_npz(missing)
    nan = str(tmp_path / "nan.npz")
    x = rng.normal(size=(40, 3))
    x[7, 1] = np.nan
    np.savez(nan, x=x, y=rng.integers(0, 2, 40))
    with pytest.raises(data.DataError, match=r"NaN or infinite values \(row 8\)"):
        data.load_npz(nan)
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not a zip")
    with pytest.raises(data.DataError, match="not an .npz file"):
        data.load_npz(str(garbage))
