"""Uploads and the memory and disk they take: an `.npz` is sized by what its arrays
become once loaded (not by their declared bytes), a CSV is parsed in blocks straight to
float32, and what an upload killed mid-way leaves behind is removed when `evokt serve`
starts again (real gunicorn, a real `kill -9`)."""

import io
import os
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from helpers import iris_rows
from helpers import write_csv
from service_helpers import AUTH
from service_helpers import children_of
from service_helpers import running_server
from service_helpers import store_of

from evokt.hypermodels import data


def npz_file(path, **arrays) -> str:
    np.savez_compressed(path, **arrays)
    return str(path)


def dataset_dirs(app) -> list[str]:
    folder = os.path.join(app.extensions["evokt.layout"].root, "datasets")
    return os.listdir(folder) if os.path.exists(folder) else []


def traced_peak(function, *args, **kwargs) -> tuple[int, object]:
    """The most bytes Python and numpy held at once while `function` ran, beyond what
    they held before, and its result."""
    tracemalloc.start()
    try:
        result = function(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


# NPZ: the limit counts the arrays as they are held -------------------------------------


@pytest.fixture(scope="module")
def boolean_bomb(tmp_path_factory) -> bytes:
    """62 KB: 32M booleans and 32M int8 labels, 64 MB as declared, 800 MB once x is
    float32 and y class indices, each split into training and validation rows."""
    path = tmp_path_factory.mktemp("bomb") / "bools.npz"
    labels = np.zeros(32_000_000, dtype="int8")
    labels[1::2] = 1
    npz_file(path, x=np.zeros((32_000_000, 1), dtype=bool), y=labels)
    return path.read_bytes()


def test_a_small_npz_that_converts_past_the_limit_is_413_from_its_headers(
        app, client, boolean_bomb):
    assert len(boolean_bomb) < 100_000
    started = time.monotonic()
    response = client.post("/v1/datasets", headers=AUTH, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(boolean_bomb), "bools.npz")})
    elapsed = time.monotonic() - started
    assert response.status_code == 413, response.json
    assert response.json["error"] == (
        "file: bools.npz: x and y declare shapes (32000000, 1) and (32000000,): 800,000,000 "
        "bytes once loaded and split (x as float32); the limit is 536,870,912")
    assert elapsed < 2  # before: 201 after 21 s and 2.9 GB
    assert dataset_dirs(app) == [] and store_of(app).datasets() == []


def test_the_limit_counts_features_as_float32_and_targets_as_held(tmp_path):
    rows, features = 1000, 5
    path = npz_file(tmp_path / "small.npz", x=np.zeros((rows, features), dtype="int8"),
                    y=np.arange(rows) % 2)
    # Both split: 4 bytes a feature, and 8 (class indices) or 4 (a float32 target) a
    # target; plus the targets as read (int64).
    classified = 2 * rows * (features * 4 + 8) + rows * 8
    regressed = 2 * rows * (features * 4 + 4) + rows * 8
    with pytest.raises(data.DataTooLargeError, match=f"{classified:,} bytes"):
        data.load_npz(path, max_bytes=classified - 1)
    assert data.load_npz(path, max_bytes=classified).rows == rows
    with pytest.raises(data.DataTooLargeError, match=f"{regressed:,} bytes"):
        data.load_npz(path, task="regression", max_bytes=regressed - 1)
    assert data.load_npz(path, task="regression", max_bytes=regressed).task == "regression"


@pytest.mark.parametrize("dtype,fortran", [
    (">f8", False), ("<f8", True), ("bool", False), ("int8", True), ("<u2", False)])
def test_x_is_converted_block_by_block_exactly(tmp_path, monkeypatch, dtype, fortran):
    monkeypatch.setattr(data, "NPZ_BLOCK_BYTES", 40)  # blocks end inside rows
    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=(60, 7, 3)) * 100).astype(dtype)
    x = np.asfortranarray(x) if fortran else x
    y = np.arange(60) % 3
    dataset = data.load_npz(npz_file(tmp_path / "x.npz", x=x, y=y), seed=4)
    expected = data.prepare("x", x.astype("float32"), y, seed=4)
    np.testing.assert_array_equal(dataset.x_train, expected.x_train)
    np.testing.assert_array_equal(dataset.x_val, expected.x_val)
    assert dataset.x_train.dtype == np.float32


def test_an_x_shorter_than_its_header_is_not_a_readable_npz(tmp_path):
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        member, {"descr": "<f8", "fortran_order": False, "shape": (30, 3)})
    member.write(b"\0" * 80)
    y = io.BytesIO()
    np.lib.format.write_array(y, np.arange(30) % 2)
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", member.getvalue())
        archive.writestr("y.npy", y.getvalue())
    with pytest.raises(data.DataError, match=r"short\.npz: not a readable \.npz file"):
        data.load_npz(str(path))


def test_a_float64_x_is_never_held_whole_as_float64(tmp_path):
    x = np.random.default_rng(0).normal(size=(200_000, 10))  # 16 MB as float64
    path = npz_file(tmp_path / "wide.npz", x=x, y=x[:, 0])
    peak, dataset = traced_peak(data.load_npz, path, task="regression")
    assert dataset.rows == 200_000
    # x as float32 (8 MB) and its split (8 MB), y as read and as held, numpy's and
    # scikit-learn's index arrays; reading x whole first would add 16 MB.
    assert peak < 2 * x.nbytes, peak


# CSV: parsed a block at a time -------------------------------------------------------


@pytest.fixture(scope="module")
def wide_csv(tmp_path_factory) -> str:
    """About 8 MB: 5,500 rows of 199 features and a 3-class label."""
    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.normal(size=(5_500, 199)).round(4),
                            rng.integers(0, 3, 5_500)])
    path = tmp_path_factory.mktemp("csv") / "wide.csv"
    header = ",".join([f"f{i}" for i in range(199)] + ["label"])
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%g")
    return str(path)


def test_a_wide_csv_loads_in_memory_bounded_by_its_size(wide_csv):
    size = os.path.getsize(wide_csv)
    assert size > 7_000_000
    peak, dataset = traced_peak(data.load_csv, wide_csv, "label")
    assert dataset.rows == 5_500 and dataset.input_shape == (199,)
    assert dataset.x_train.dtype == np.float32
    assert peak < 4 * size, f"peak {peak:,} bytes for a {size:,}-byte file"  # before: 15.6x


def test_a_wide_csv_upload_takes_memory_bounded_by_its_size(app, client, wide_csv):
    size = os.path.getsize(wide_csv)
    with open(wide_csv, "rb") as file:
        peak, response = traced_peak(
            client.post, "/v1/datasets", headers=AUTH, content_type="multipart/form-data",
            data={"file": (file, "wide.csv"), "target": "label"})
    assert response.status_code == 201, response.json
    assert response.json["rows"] == 5_500
    assert peak < 4 * size, f"peak {peak:,} bytes for a {size:,}-byte upload"


def test_csv_blocks_give_the_same_dataset_and_messages_as_one_block(tmp_path, monkeypatch):
    rows = [[*row[:4], row[4]] for row in iris_rows()]
    rows.insert(70, ["", " ", "", "", ""])  # a blank record is skipped, and counted
    path = write_csv(tmp_path / "iris.csv", ["a", "b", "c", "d", "species"], rows)
    whole = data.load_csv(path, "species")
    monkeypatch.setattr(data, "CSV_BLOCK_CELLS", 7)  # blocks of one row
    blocks = data.load_csv(path, "species")
    np.testing.assert_array_equal(blocks.x_train, whole.x_train)
    np.testing.assert_array_equal(blocks.y_train, whole.y_train)
    assert blocks.class_labels == whole.class_labels == ["setosa", "versicolor", "virginica"]
    # Numbers until the last block, text there: the labels are all text.
    numeric = [[i, i % 2] for i in range(30)] + [[30, "x"], [31, "x"]]
    labels = data.load_csv(write_csv(tmp_path / "mixed.csv", ["v", "y"], numeric), "y")
    assert labels.class_labels == ["0", "1", "x"]
    bad = [row[:] for row in rows]
    bad[100][2] = "inf"
    bad[120][4] = ""
    with pytest.raises(data.DataError, match="line 102: column 'c' is inf, not a finite"):
        data.load_csv(write_csv(tmp_path / "bad.csv", ["a", "b", "c", "d", "y"], bad), "y")
    bad[100][2] = "1"
    # The record's own number, the blank record before it counted.
    with pytest.raises(data.DataError, match="line 122: the target 'y' is empty"):
        data.load_csv(write_csv(tmp_path / "bad.csv", ["a", "b", "c", "d", "y"], bad), "y")


# Leftovers of a killed upload ----------------------------------------------------------


def test_serve_removes_what_killed_uploads_and_registrations_left(tmp_path):
    """A real `kill -9` of the web worker while it loads an upload leaves its staging
    folder; the next `evokt serve` removes it, with the other staged folders a killed
    process leaves, and keeps every dataset and model version."""
    rng = np.random.default_rng(0)
    table = np.column_stack([rng.normal(size=(11_000, 199)).round(4),
                             rng.integers(0, 3, 11_000)])
    big = tmp_path / "big.csv"  # 16 MB: about a second of parsing
    np.savetxt(big, table, delimiter=",", header=",".join(f"c{i}" for i in range(200)),
               comments="", fmt="%g")
    iris = write_csv(tmp_path / "iris.csv", ["a", "b", "c", "d", "species"], iris_rows())
    with running_server(tmp_path, "--workers", "1") as (client, data_dir, process):
        status, kept, _ = client.upload(iris, "iris.csv", {"target": "species"})
        assert status == 201, kept
        web = next(pid for pid in children_of(process.pid) if b"gunicorn" in
                   open(f"/proc/{pid}/cmdline", "rb").read())
        worker = children_of(web, count=1)[0]
        uploading = threading.Thread(target=upload_ignoring_the_reset,
                                     args=(client, str(big)), daemon=True)
        uploading.start()
        staged = wait_for_staging(data_dir / "datasets", timeout=30)
        os.kill(worker, 9)
        uploading.join(60)
        assert (data_dir / "datasets" / staged).is_dir()
    # What a registration and a deletion killed mid-way leave, as `evokt.service.versions`
    # and `evokt.service.deletion` stage them.
    leftovers = [data_dir / "models" / "iris" / ".tmp-search1-07",
                 data_dir / "models" / "iris" / ".tmp-deleted-abc",
                 data_dir / "searches" / ".tmp-deleted-def"]
    for folder in leftovers:
        folder.mkdir(parents=True)
        (folder / "model.keras").write_bytes(b"weights")
    (data_dir / "models" / "iris" / "1").mkdir()
    with running_server(tmp_path, "--workers", "1", data_dir=data_dir) as (client, *_):
        assert sorted(os.listdir(data_dir / "datasets")) == [kept["id"]]
        assert os.listdir(data_dir / "models" / "iris") == ["1"]
        assert os.listdir(data_dir / "searches") == []
        assert client.request("GET", f"/v1/datasets/{kept['id']}")[0] == 200


def upload_ignoring_the_reset(client, path: str) -> None:
    try:
        client.upload(path, "big.csv", {"target": "c199"})
    except OSError:
        pass  # the worker was killed under the request


def wait_for_staging(folder, timeout: float) -> str:
    """The name of the first staging folder of an upload that holds its file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in os.listdir(folder):
            if name.startswith(".tmp-") and os.path.exists(folder / name / "data.csv"):
                return name
        time.sleep(0.005)
    pytest.fail(f"no upload was staged in {folder} within {timeout} s")
