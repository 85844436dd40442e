"""`/v1/datasets`: upload CSV or NPZ data, list it with the bundled datasets."""

from __future__ import annotations

import functools
import math
import os
import shutil
from typing import Any

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request

from evokt.files import write_json_atomically
from evokt.hypermodels import data
from evokt.hypermodels.errors import DataError
from evokt.hypermodels.tasks import TASKS
from evokt.service.deletion import Removal
from evokt.service.disk import require_space
from evokt.service.errors import ApiError
from evokt.service.layout import STAGING_PREFIX
from evokt.service.layout import DataLayout
from evokt.service.store import JobStore
from evokt.service.store import get_store
from evokt.service.store import new_id
from evokt.service.validation import check_name

blueprint = Blueprint("datasets", __name__, url_prefix="/v1/datasets")

FORMATS = {".csv": "csv", ".npz": "npz"}
# The dataset's job store record, kept in its folder.
RECORD_FILE = "dataset.json"


def api_record(
    dataset_id: str, file_format: str, target: str | None, rows: int,
    input_shape: list[int], task: str, classes: list | None,
) -> dict[str, Any]:
    """The API's view of a dataset, bundled or uploaded."""
    return {
        "id": dataset_id,
        "builtin": file_format == "builtin",
        "format": file_format,
        "target": target,
        "rows": rows,
        "features": math.prod(input_shape),
        "input_shape": input_shape,
        "task": task,
        "classes": classes,
    }


@functools.cache
def builtin_dataset(name: str) -> dict[str, Any]:
    """The API's record of a bundled dataset (loaded once per process)."""
    dataset = data.load_builtin(name)
    return api_record(name, "builtin", None, dataset.rows, list(dataset.input_shape),
                      dataset.task, dataset.class_labels)


def stored_dataset(record: dict[str, Any]) -> dict[str, Any]:
    return api_record(record["id"], record["format"], record["target"], record["rows"],
                      record["input_shape"], record["task"], record["classes"])


def dataset_file(layout: DataLayout, record: dict[str, Any]) -> str:
    return os.path.join(layout.dataset_dir(record["id"]), f"data.{record['format']}")


def find_dataset(store: JobStore, dataset_id: str) -> dict[str, Any] | None:
    """A bundled or uploaded dataset's API record, or None."""
    if dataset_id in data.BUILTIN_DATASETS:
        return builtin_dataset(dataset_id)
    record = store.dataset(dataset_id)
    return stored_dataset(record) if record else None


@blueprint.get("")
def list_datasets():
    store = get_store()
    bundled = [builtin_dataset(name) for name in data.BUILTIN_DATASETS]
    return jsonify(datasets=bundled + [stored_dataset(r) for r in store.datasets()])


@blueprint.get("/<dataset_id>")
def get_dataset(dataset_id: str):
    store = get_store()
    record = find_dataset(store, check_name(dataset_id, "dataset id"))
    if record is None:
        raise ApiError(404, f"no dataset {dataset_id!r}")
    return jsonify(record)


@blueprint.post("")
def upload_dataset():
    """Stores an uploaded file once it loads as a dataset.

    Multipart form fields: `file` (a .csv or .npz file), `target` (the CSV's
    label column) and optionally `task`.
    """
    # Before the body is read: an upload that would fill the disk is refused whole.
    require_space(current_app.config["DATA_DIR"], current_app.config["MIN_FREE_BYTES"],
                  request.content_length or 0)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "file: upload a .csv or .npz file as the form field 'file'")
    extension = os.path.splitext(upload.filename)[1].lower()
    if extension not in FORMATS:
        raise ApiError(400, "file: the file name must end in .csv or .npz")
    file_format = FORMATS[extension]
    target = request.form.get("target") or None
    task = request.form.get("task") or None
    if file_format == "csv" and target is None:
        raise ApiError(400, "target: name the CSV column to predict")
    if task is not None and task not in TASKS:
        raise ApiError(400, f"task: must be {' or '.join(TASKS)}")

    layout: DataLayout = current_app.extensions["evokt.layout"]
    store = get_store()
    dataset_id = new_id()
    # Removed at the next start if this process is killed before the rename.
    staging = layout.dataset_dir(f"{STAGING_PREFIX}{dataset_id}")
    os.makedirs(staging)
    try:
        path = os.path.join(staging, f"data.{file_format}")
        upload.save(path)
        dataset = _load_upload(path, file_format, target, task, upload.filename)
        record = {
            "id": dataset_id, "filename": upload.filename, "format": file_format,
            "target": target, "task": dataset.task, "rows": dataset.rows,
            "input_shape": list(dataset.input_shape), "classes": dataset.class_labels,
        }
        # Beside the data, so `evokt store rebuild` can register it again.
        write_json_atomically(os.path.join(staging, RECORD_FILE), record)
        # The rename makes the file appear whole; the record follows it.
        os.rename(staging, layout.dataset_dir(dataset_id))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    try:
        store.add_dataset(record)
    except BaseException:
        shutil.rmtree(layout.dataset_dir(dataset_id), ignore_errors=True)
        raise
    return jsonify(find_dataset(store, dataset_id)), 201


def _load_upload(
    path: str, file_format: str, target: str | None, task: str | None, filename: str
) -> data.Dataset:
    """The uploaded file as a dataset, or the 4xx that says why it is not one."""
    limit = current_app.config["MAX_DATASET_BYTES"]
    try:
        if file_format == "csv":
            return data.load_csv(path, target, task=task)
        return data.load_npz(path, task=task, max_bytes=limit)
    except data.DataTooLargeError as error:
        raise ApiError(413, f"file: {str(error).replace(path, filename)}") from None
    except DataError as error:
        raise ApiError(400, f"file: {str(error).replace(path, filename)}") from None
    except MemoryError:
        raise ApiError(413, f"file: {filename} is too large to load") from None


@blueprint.delete("/<dataset_id>")
def delete_dataset(dataset_id: str):
    """Deletes an uploaded dataset and its file, unless a search not yet ended uses it."""
    store = get_store()
    check_name(dataset_id, "dataset id")
    if dataset_id in data.BUILTIN_DATASETS:
        raise ApiError(409, f"{dataset_id!r} is a bundled dataset; only uploads can be deleted")
    if store.dataset(dataset_id) is None:
        raise ApiError(404, f"no dataset {dataset_id!r}")
    layout: DataLayout = current_app.extensions["evokt.layout"]
    with Removal([layout.dataset_dir(dataset_id)]) as removal:
        users = store.delete_dataset(dataset_id, removal.move_aside)
    if users:
        raise ApiError(409, f"search {users[0]} uses the dataset and has not ended; cancel it "
                            "or wait for it to end")
    return jsonify(id=dataset_id, deleted=True, freed_bytes=removal.freed_bytes)
