"""Datasets: the bundled scikit-learn sets, CSV and NPZ files, and the split.

Every loader ends in `prepare()`, which checks the arrays, encodes class
labels, makes a fixed, seeded train/validation split (stratified for
classification) and computes the scaling statistics on the training part
only. The statistics are built into the model by the hypermodels, so the
exported model takes raw rows exactly as they appear in the user's data.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import zipfile
import zlib
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO
from typing import Any

import numpy as np
from sklearn import datasets as sklearn_datasets
from sklearn.model_selection import train_test_split

from evokt.hypermodels.errors import DataError

MIN_ROWS = 10
# The dtype kinds a target may have: booleans, integers, floats and text.
_TARGET_KINDS = "biufU"
VALIDATION_FRACTION = 0.2
# An integer target with at most this many distinct values is taken for
# class labels; more, and it is a quantity to regress.
MAX_INFERRED_CLASSES = 20
# Cells of a CSV converted at a time: their text is the only Python object per
# cell alive at once (a few MB), whatever the file's size.
CSV_BLOCK_CELLS = 65_536
# Bytes of an NPZ's `x` read and converted to float32 at a time.
NPZ_BLOCK_BYTES = 4 * 1024 * 1024


class DataTooLargeError(DataError):
    """The data is larger than the limit it is loaded under."""


@dataclass
class Dataset:
    """A dataset split for a search.

    Args:
        name: Where it came from: a bundled name or a file path.
        task: "classification" or "regression".
        x_train: Training features, float32, shape (rows, *input_shape).
        y_train: Training targets: class indices (int) or values (float32).
        x_val: Validation features.
        y_val: Validation targets.
        class_labels: The original label of each class index, or None.
        feature_names: Column names of tabular data, or None.
        feature_mean: Per-feature (last axis) mean of `x_train`.
        feature_variance: Per-feature variance of `x_train`.
        target_mean: Mean of a regression target on `x_train`'s rows.
        target_std: Standard deviation of that target.
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    class_labels: list | None
    feature_names: list[str] | None
    feature_mean: np.ndarray
    feature_variance: np.ndarray
    target_mean: float | None = None
    target_std: float | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int | None:
        return len(self.class_labels) if self.class_labels is not None else None

    @property
    def rows(self) -> int:
        return len(self.x_train) + len(self.x_val)

    def pooled(self) -> Dataset:
        """Every row in the training part, the validation part empty, and the
        scaling statistics recomputed over all rows: the data of a
        cross-validated search, which holds out folds of it in turn."""
        x = np.concatenate([self.x_train, self.x_val])
        y = np.concatenate([self.y_train, self.y_val])
        per_feature = x.reshape(-1, x.shape[-1])
        target = {}
        if self.task == "regression":
            target = {"target_mean": float(y.mean()), "target_std": float(y.std()) or 1.0}
        return dataclasses.replace(
            self, x_train=x, y_train=y, x_val=x[:0], y_val=y[:0],
            feature_mean=per_feature.mean(axis=0), feature_variance=per_feature.var(axis=0),
            **target)

    def describe(self) -> dict:
        """What a server needs to know to feed a model trained on this data."""
        return {
            "dataset": self.name,
            "task": self.task,
            "input_shape": list(self.input_shape),
            "class_labels": self.class_labels,
            "feature_names": self.feature_names,
            "rows": self.rows,
        }


def _digits() -> tuple[np.ndarray, np.ndarray, None]:
    bunch = sklearn_datasets.load_digits()
    return bunch.images.reshape(-1, 8, 8, 1), bunch.target, None


def _tabular(loader: Callable[..., Any]) -> Callable[[], tuple]:
    def load() -> tuple[np.ndarray, np.ndarray, list[str]]:
        bunch = loader()
        return bunch.data, bunch.target, [str(name) for name in bunch.feature_names]

    return load


# name -> (loader, task). All ship inside scikit-learn: nothing is downloaded.
BUILTIN_DATASETS: dict[str, tuple[Callable[[], tuple], str]] = {
    "digits": (_digits, "classification"),
    "iris": (_tabular(sklearn_datasets.load_iris), "classification"),
    "wine": (_tabular(sklearn_datasets.load_wine), "classification"),
    "breast_cancer": (_tabular(sklearn_datasets.load_breast_cancer), "classification"),
    "diabetes": (_tabular(sklearn_datasets.load_diabetes), "regression"),
}


def load_builtin(name: str, seed: int = 0) -> Dataset:
    """Loads one of `BUILTIN_DATASETS`, split.

    Args:
        name: The dataset's name.
        seed: Seed of the train/validation split.
    """
    if name not in BUILTIN_DATASETS:
        raise DataError(
            f"unknown dataset {name!r}; bundled datasets are "
            f"{', '.join(BUILTIN_DATASETS)}"
        )
    loader, task = BUILTIN_DATASETS[name]
    x, y, feature_names = loader()
    return prepare(name, x, y, task=task, feature_names=feature_names, seed=seed)


def load_csv(
    path: str, target: str, task: str | None = None, seed: int = 0
) -> Dataset:
    """Loads a CSV file with a header row; `target` names the label column.

    The rows are read and converted a block at a time (`CSV_BLOCK_CELLS`), so
    the features are held as float32 from the start and loading takes memory
    in proportion to them, not to the text's Python objects.

    Args:
        path: The CSV file.
        target: Name of the column to predict; every other column is a
            numeric feature.
        task: "classification" or "regression"; inferred from the target
            column when None.
        seed: Seed of the train/validation split.
    """
    _check_file(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            x, labels, feature_names = _read_csv(path, csv.reader(file), target)
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}: not UTF-8 text (byte {error.start} cannot be read); save the file "
            "as UTF-8"
        ) from None
    except csv.Error as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from None
    return prepare(path, x, labels, task=task, feature_names=feature_names, seed=seed)


def _read_csv(
    path: str, rows: Iterator[list[str]], target: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The features (float32), the target cells (numbers, else text) and the
    feature names of a CSV's rows, the header first."""
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: the file is empty")
    header = [name.strip() for name in first]
    if target not in header:
        raise DataError(
            f"{path}: no target column {target!r}; columns are {', '.join(header)}"
        )
    target_index = header.index(target)
    feature_names = [name for i, name in enumerate(header) if i != target_index]
    if not feature_names:
        raise DataError(f"{path}: no feature columns besides the target {target!r}")
    block_rows = max(1, CSV_BLOCK_CELLS // len(header))
    columns = _CsvColumns(path, feature_names)
    cells, lines, labels = [], [], []
    empty_target_line = None
    # `line` counts records, as the error messages always have.
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(
                f"{path}: line {line} has {len(row)} fields, the header has {len(header)}"
            )
        label = row.pop(target_index).strip()
        if label == "" and empty_target_line is None:
            empty_target_line = line
        cells.append(row)
        lines.append(line)
        labels.append(label)
        if len(cells) == block_rows:
            columns.add(cells, lines, labels)
            cells, lines, labels = [], [], []
    columns.add(cells, lines, labels)
    # After every feature is read, so a bad feature cell is reported first.
    if empty_target_line is not None:
        raise DataError(f"{path}: line {empty_target_line}: the target {target!r} is empty")
    x, y = columns.arrays()
    return x, y, feature_names


class _CsvColumns:
    """A CSV's rows converted a block at a time.

    Args:
        path: The file, for messages.
        feature_names: The feature columns' names, in their order.
    """

    def __init__(self, path: str, feature_names: list[str]):
        self.path = path
        self.feature_names = feature_names
        self.features: list[np.ndarray] = []
        self.label_text: list[np.ndarray] = []
        # The labels as numbers while every block's parse as numbers, then None.
        self.label_numbers: list[np.ndarray] | None = []

    def add(self, cells: list[list[str]], lines: list[int], labels: list[str]) -> None:
        """Converts one block of rows: their feature cells, their record numbers
        and their target cells."""
        if not cells:
            return
        self.features.append(self._features(cells, lines))
        self.label_text.append(np.asarray(labels))
        if self.label_numbers is not None:
            try:
                self.label_numbers.append(np.array([float(label) for label in labels]))
            except ValueError:
                self.label_numbers = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The features (float32, rows by features) and the targets: floats if
        every cell is a number, else text."""
        x = _concatenate(self.features, np.zeros((0, len(self.feature_names)), "float32"))
        self.features = []
        labels = self.label_numbers if self.label_numbers is not None else self.label_text
        return x, _concatenate(labels, np.zeros(0, "float64"))

    def _features(self, cells: list[list[str]], lines: list[int]) -> np.ndarray:
        # numpy parses the cells in C; a block it refuses is parsed cell by cell.
        try:
            block = np.array(cells, dtype="float64")
            if np.isfinite(block).all():
                return block.astype("float32")
        except ValueError:
            pass
        # A cell is not a finite number (or not one numpy reads): parse as float()
        # does, which names the first bad cell by line and column.
        return np.array(
            [[_parse_number(self.path, line, name, cell)
              for name, cell in zip(self.feature_names, row, strict=True)]
             for line, row in zip(lines, cells, strict=True)],
            dtype="float32",
        )


def _concatenate(blocks: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    """The blocks as one array, `empty` if there are none; a single block is not copied."""
    if not blocks:
        return empty
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def load_npz(
    path: str, task: str | None = None, seed: int = 0, max_bytes: int | None = None
) -> Dataset:
    """Loads an `.npz` file holding arrays `x` (rows first) and `y`.

    The arrays' shapes and types are read from their headers before any
    data, so an archive whose arrays would take more than `max_bytes` once
    loaded (a compressed "zip bomb" of zeros, say) is refused without being
    decompressed, and pickled objects are never loaded. `x` is converted to
    float32 as it is read, a block at a time, so a float64 or boolean `x` is
    never held whole in its own type.

    Args:
        path: The NPZ file.
        task: "classification" or "regression"; inferred from `y` when None.
        seed: Seed of the train/validation split.
        max_bytes: The most bytes the arrays may take once loaded and split
            (`loaded_bytes`); None for no limit.

    Raises:
        DataTooLargeError: The arrays would take more than `max_bytes`.
        DataError: Not an NPZ of usable `x` and `y`.
    """
    _check_file(path)
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not an .npz file (an .npz is a zip archive of .npy arrays)")
    try:
        with zipfile.ZipFile(path) as archive:
            headers = {name: _npy_header(archive, f"{name}.npy") for name in ("x", "y")}
            missing = [name for name, header in headers.items() if header is None]
            if missing:
                raise DataError(f"{path}: missing array {', '.join(missing)}")
            (x_shape, x_fortran, x_dtype), (y_shape, _, y_dtype) = headers["x"], headers["y"]
            for name, (_, _, dtype) in headers.items():
                if dtype.hasobject:
                    raise DataError(f"{path}: {name} holds Python objects, which are not loaded")
            # Before the shape checks, so that any array too large is refused as such.
            needed = loaded_bytes(x_shape[0] if x_shape else 1, math.prod(x_shape[1:]),
                                  math.prod(y_shape) * y_dtype.itemsize, task)
            if max_bytes is not None and needed > max_bytes:
                raise DataTooLargeError(
                    f"{path}: x and y declare shapes {x_shape} and {y_shape}: {needed:,} bytes "
                    f"once loaded and split (x as float32); the limit is {max_bytes:,}"
                )
            if x_dtype.kind not in "biuf":
                raise DataError(f"{path}: x must be numeric, got dtype {x_dtype}")
            if len(x_shape) < 2:
                raise DataError(
                    f"{path}: x must have a rows axis and a feature axis, got shape {x_shape}")
            if 0 in x_shape[1:]:
                raise DataError(f"{path}: x has no features, its shape is {x_shape}")
            x = _read_float32(archive, "x.npy", x_shape, x_fortran, x_dtype)
            with archive.open("y.npy") as file:
                y = np.lib.format.read_array(file, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    return prepare(path, x, y, task=task, seed=seed)


def loaded_bytes(rows: int, features: int, target_bytes: int, task: str | None) -> int:
    """The memory a dataset's arrays take while `prepare` splits them.

    The features as float32 and the targets as they are held (int64 class
    indices, or a float32 regression target), each twice: whole and split
    into training and validation rows; and the targets as read.

    Args:
        rows: Rows of the data.
        features: Values per row (the product of `x`'s shape after the rows).
        target_bytes: Bytes of the targets as read.
        task: "regression", or "classification" or None (the targets may
            become class indices).
    """
    held_target = 4 if task == "regression" else 8
    return 2 * rows * (features * 4 + held_target) + target_bytes


def _npy_header(
    archive: zipfile.ZipFile, member: str
) -> tuple[tuple[int, ...], bool, np.dtype] | None:
    """The shape, Fortran order and dtype an archive member's `.npy` header
    declares, or None if there is no such member."""
    if member not in archive.namelist():
        return None
    with archive.open(member) as file:
        return _read_npy_header(file)


def _read_npy_header(file: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(file)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(file)
    return np.lib.format.read_array_header_2_0(file)


def _read_float32(
    archive: zipfile.ZipFile, member: str, shape: tuple[int, ...], fortran_order: bool,
    dtype: np.dtype,
) -> np.ndarray:
    """An archive member's array, converted to float32 `NPZ_BLOCK_BYTES` at a time."""
    count = math.prod(shape)
    array = np.empty(count, dtype="float32")
    step = max(1, NPZ_BLOCK_BYTES // dtype.itemsize)
    with archive.open(member) as file:
        _read_npy_header(file)
        for start in range(0, count, step):
            size = min(step, count - start)
            block = file.read(size * dtype.itemsize)
            if len(block) < size * dtype.itemsize:
                raise ValueError(f"{member} holds fewer values than its header declares")
            array[start:start + size] = np.frombuffer(block, dtype=dtype)
    return array.reshape(shape, order="F" if fortran_order else "C")


def prepare(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    task: str | None = None,
    feature_names: Sequence[str] | None = None,
    seed: int = 0,
) -> Dataset:
    """Checks, encodes and splits arrays into a `Dataset`.

    Args:
        name: Where the data came from, for messages.
        x: Features, rows first.
        y: Targets, one per row.
        task: "classification", "regression", or None to infer.
        feature_names: Column names, for tabular data.
        seed: Seed of the train/validation split.

    Raises:
        DataError: Too few rows, NaN or infinite values, mismatched lengths,
            a single class, or a class with a single row.
    """
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y)
    if y.dtype.kind not in _TARGET_KINDS:
        raise DataError(f"{name}: y must hold numbers or text, got dtype {y.dtype}")
    if y.ndim != 1:
        y = y.reshape(len(y), -1)
        if y.shape[1] != 1:
            raise DataError(f"{name}: y must hold one target per row, got shape {y.shape}")
        y = y[:, 0]
    if len(x) != len(y):
        raise DataError(f"{name}: {len(x)} rows of features but {len(y)} targets")
    if len(x) < MIN_ROWS:
        raise DataError(f"{name}: too few rows ({len(x)}); at least {MIN_ROWS} are needed")
    if not np.isfinite(x).all():
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        raise DataError(f"{name}: features hold NaN or infinite values (row {row + 1})")
    task = task or _infer_task(y)
    if task not in ("classification", "regression"):
        raise DataError(f"{name}: task must be classification or regression, got {task!r}")
    class_labels, target_mean, target_std = None, None, None
    if task == "classification":
        class_labels, y = _encode_classes(name, y)
        stratify = y
    else:
        if y.dtype.kind not in "biuf":
            raise DataError(f"{name}: a regression target must be numeric")
        y = y.astype("float32")
        if not np.isfinite(y).all():
            raise DataError(f"{name}: the target holds NaN or infinite values")
        stratify = None
    validation_rows = math.ceil(VALIDATION_FRACTION * len(x))
    if class_labels is not None:
        # A stratified split needs every class on both sides.
        validation_rows = max(validation_rows, len(class_labels))
        if len(x) - validation_rows < len(class_labels):
            raise DataError(
                f"{name}: too few rows ({len(x)}) for {len(class_labels)} classes"
            )
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=validation_rows, random_state=seed, stratify=stratify
    )
    per_feature = x_train.reshape(-1, x_train.shape[-1])
    if task == "regression":
        target_mean = float(y_train.mean())
        target_std = float(y_train.std()) or 1.0
    return Dataset(
        name=name,
        task=task,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        class_labels=class_labels,
        feature_names=list(feature_names) if feature_names is not None else None,
        feature_mean=per_feature.mean(axis=0),
        feature_variance=per_feature.var(axis=0),
        target_mean=target_mean,
        target_std=target_std,
    )


def _check_file(path: str) -> None:
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")


def _parse_number(path: str, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    if text == "":
        raise DataError(f"{path}: line {line}: missing value in column {column!r}")
    try:
        value = float(text)
    except ValueError:
        raise DataError(
            f"{path}: line {line}: column {column!r} is not numeric ({text!r})"
        ) from None
    if not math.isfinite(value):
        raise DataError(
            f"{path}: line {line}: column {column!r} is {text}, not a finite number"
        )
    return value


def _infer_task(y: np.ndarray) -> str:
    if y.dtype.kind not in "biuf":
        return "classification"
    finite = y[np.isfinite(y)] if y.dtype.kind == "f" else y
    integral = bool(np.all(np.mod(finite, 1) == 0))
    if integral and len(np.unique(finite)) <= MAX_INFERRED_CLASSES:
        return "classification"
    return "regression"


def _encode_classes(name: str, y: np.ndarray) -> tuple[list, np.ndarray]:
    """The sorted class labels (JSON-friendly) and each row's class index."""
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise DataError(f"{name}: the target holds NaN or infinite values")
        if np.all(np.mod(y, 1) == 0):
            y = y.astype("int64")
    labels, indices = np.unique(y, return_inverse=True)
    if len(labels) < 2:
        raise DataError(f"{name}: the target has one class only ({labels[0]!r})")
    counts = np.bincount(indices)
    if counts.min() < 2:
        lonely = labels[int(np.argmin(counts))]
        raise DataError(
            f"{name}: class {lonely.item()!r} has a single row; each class needs at least 2"
        )
    return [label.item() for label in labels], indices.astype("int64", copy=False)
