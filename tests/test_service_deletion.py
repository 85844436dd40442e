"""Deleting datasets, searches, models and versions: records and files go together."""

import os

import pytest
from service_helpers import AUTH
from service_helpers import conforms
from service_helpers import register_iris_model
from service_helpers import store_of
from test_service_api import upload_iris

from evokt.service.deletion import TRASH_PREFIX
from evokt.service.deletion import Removal
from evokt.service.deletion import finish_deletions
from evokt.service.store import FAILED


def test_an_uploaded_dataset_is_deleted_with_its_file_once_no_search_needs_it(
        app, client, tmp_path):
    dataset = upload_iris(client, tmp_path).json
    folder = app.extensions["evokt.layout"].dataset_dir(dataset["id"])
    search = client.post("/v1/searches", json={"dataset": dataset["id"]}, headers=AUTH).json

    refused = client.delete(f"/v1/datasets/{dataset['id']}", headers=AUTH)
    assert refused.status_code == 409
    assert search["id"] in refused.json["error"]
    assert os.path.isdir(folder)

    client.post(f"/v1/searches/{search['id']}/cancel", headers=AUTH)
    deleted = client.delete(f"/v1/datasets/{dataset['id']}", headers=AUTH)
    conforms(deleted, "/v1/datasets/{dataset_id}", "delete")
    assert deleted.json == {"id": dataset["id"], "deleted": True,
                            "freed_bytes": deleted.json["freed_bytes"]}
    assert deleted.json["freed_bytes"] > 1000
    assert not os.path.exists(folder)
    assert not [name for name in os.listdir(os.path.dirname(folder)) if name != dataset["id"]]
    assert client.get(f"/v1/datasets/{dataset['id']}", headers=AUTH).status_code == 404
    assert client.delete(f"/v1/datasets/{dataset['id']}", headers=AUTH).status_code == 404


def test_a_bundled_dataset_cannot_be_deleted(client):
    refused = client.delete("/v1/datasets/iris", headers=AUTH)
    assert refused.status_code == 409
    assert "bundled" in refused.json["error"]


def test_an_ended_search_is_deleted_with_its_directory_and_trials_its_models_stay(app, client):
    register_iris_model(app, "kept")
    search_id = client.post("/v1/searches", json={"dataset": "iris"}, headers=AUTH).json["id"]
    layout = app.extensions["evokt.layout"]
    store = store_of(app)
    project = layout.search_dir(search_id)
    os.makedirs(os.path.join(project, "trial_00"))
    with open(os.path.join(project, "trial_00", "checkpoint.weights.h5"), "wb") as file:
        file.write(b"x" * 5000)
    store.set_state(search_id, "RUNNING")
    store.record_trial(search_id, {"trial_id": "00", "status": "COMPLETED", "score": 0.9,
                                   "hyperparameters": {}},
                       {"trials_done": 1, "objective": "val_accuracy", "direction": "max"})

    refused = client.delete(f"/v1/searches/{search_id}", headers=AUTH)
    assert refused.status_code == 409
    assert "RUNNING" in refused.json["error"]

    store.set_state(search_id, FAILED)
    deleted = client.delete(f"/v1/searches/{search_id}", headers=AUTH)
    conforms(deleted, "/v1/searches/{search_id}", "delete")
    assert deleted.json["freed_bytes"] >= 5000
    assert not os.path.exists(os.path.dirname(project))
    assert store.trials(search_id) == []
    assert client.get(f"/v1/searches/{search_id}", headers=AUTH).status_code == 404
    assert client.get("/v1/models/kept", headers=AUTH).status_code == 200


def test_a_deleted_version_number_is_never_given_to_another(app, client):
    register_iris_model(app, "iris", 1)
    register_iris_model(app, "iris", 2)
    layout = app.extensions["evokt.layout"]

    deleted = client.delete("/v1/models/iris/versions/2", headers=AUTH)
    conforms(deleted, "/v1/models/{name}/versions/{version}", "delete")
    assert deleted.json["deleted"] and deleted.json["freed_bytes"] > 0
    assert not os.path.exists(layout.model_dir("iris", 2))
    assert client.get("/v1/models/iris/versions/2", headers=AUTH).status_code == 404
    status = client.get("/v1/models/iris", headers=AUTH).json["model_version_status"]
    assert [version["version"] for version in status] == ["1"]
    predicted = client.post("/v1/models/iris:predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]]},
                            headers=AUTH)
    assert predicted.status_code == 200

    store = store_of(app)
    staging = os.path.join(os.path.dirname(layout.model_dir("iris", 1)), "staged")

    def place(version: int) -> None:
        os.makedirs(staging)
        os.rename(staging, layout.model_dir("iris", version))

    version = store.register_model_version("s", "07", "iris", {"input_shape": [4]}, place,
                                           finish_search=False)
    assert version == 3


def test_a_model_is_deleted_with_every_version(app, client):
    register_iris_model(app, "iris", 1)
    register_iris_model(app, "iris", 2)
    deleted = client.delete("/v1/models/iris", headers=AUTH)
    conforms(deleted, "/v1/models/{name}", "delete")
    assert deleted.json["deleted_versions"] == [1, 2]
    assert not os.listdir(os.path.join(app.config["DATA_DIR"], "models", "iris"))
    assert client.get("/v1/models", headers=AUTH).json == {"models": []}
    assert client.delete("/v1/models/iris", headers=AUTH).status_code == 404


def test_deleting_needs_the_token(app, client):
    register_iris_model(app)
    for path in ("/v1/models/iris", "/v1/models/iris/versions/1", "/v1/datasets/x",
                 "/v1/searches/x"):
        assert client.delete(path).status_code == 401
    assert client.get("/v1/models/iris", headers=AUTH).status_code == 200


def test_a_deletion_whose_transaction_fails_puts_the_files_back(tmp_path):
    folder = tmp_path / "thing"
    folder.mkdir()
    (folder / "file").write_bytes(b"data")
    with pytest.raises(RuntimeError), Removal([str(folder)]) as removal:
        removal.move_aside()
        assert not folder.exists()
        raise RuntimeError("the commit failed")
    assert (folder / "file").read_bytes() == b"data"
    assert not [name for name in os.listdir(tmp_path) if name.startswith(TRASH_PREFIX)]


def test_a_deletion_cut_short_is_undone_if_it_did_not_commit_and_finished_if_it_did(
        app, client, tmp_path):
    dataset = upload_iris(client, tmp_path).json
    register_iris_model(app, "iris", 1)
    layout = app.extensions["evokt.layout"]
    store = store_of(app)
    # Killed after the renames: the dataset's transaction had not committed, the
    # version's had (its row is marked deleted).
    Removal([layout.dataset_dir(dataset["id"])]).move_aside()
    Removal([layout.model_dir("iris", 1)]).move_aside()
    store.delete_model_versions("iris", [1], lambda: None)
    finish_deletions(layout, store)
    assert os.path.exists(os.path.join(layout.dataset_dir(dataset["id"]), "data.csv"))
    assert client.get(f"/v1/datasets/{dataset['id']}", headers=AUTH).status_code == 200
    leftovers = [name for folder in ("datasets", "models/iris")
                 for name in os.listdir(os.path.join(app.config["DATA_DIR"], folder))
                 if name.startswith(TRASH_PREFIX)]
    assert leftovers == [] and not os.path.exists(layout.model_dir("iris", 1))


def test_a_deleted_version_never_answers_for_its_model_in_the_worker_that_loaded_it(app, client):
    register_iris_model(app, "iris", 1)
    row = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    assert client.post("/v1/models/iris/versions/1:predict", json=row,
                       headers=AUTH).status_code == 200
    register_iris_model(app, "iris", 2)
    cache = app.extensions["evokt.models"]
    latest = store_of(app).model_version("iris")
    assert cache.latest(latest).version == 1  # version 2 loads meanwhile

    assert client.delete("/v1/models/iris/versions/1", headers=AUTH).status_code == 200
    assert cache.latest(latest).version == 2
