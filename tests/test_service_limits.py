"""Bad configuration and hostile requests, through the real application factory."""

import json
import threading

import pytest
from service_helpers import AUTH
from service_helpers import TOKEN
from service_helpers import make_app
from service_helpers import register_iris_model

from evokt.service.app import create_app
from evokt.service.cluster import read_cluster
from evokt.service.config import ConfigError
from evokt.service.predictor import ModelCache

# Configuration and the token ---------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "\n", "short-token\n"])
def test_an_empty_or_short_token_file_refuses_to_start(tmp_path, content):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "api-token").write_text(content)
    with pytest.raises(ConfigError, match="must be at least 16 characters"):
        create_app({"DATA_DIR": str(data_dir)})


@pytest.mark.parametrize("token", ["", "0", "123456", "   "])
def test_an_empty_or_short_environment_token_refuses_to_start(tmp_path, monkeypatch, token):
    monkeypatch.setenv("EVOKT_API_TOKEN", token)
    with pytest.raises(ConfigError, match="EVOKT_API_TOKEN is .*at least 16 characters"):
        create_app({"DATA_DIR": str(tmp_path / "data")})


def test_a_numeric_environment_token_is_a_string_token(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOKT_API_TOKEN", "1234567890123456")
    client = create_app({"DATA_DIR": str(tmp_path / "data")}).test_client()
    headers = {"Authorization": "Bearer 1234567890123456"}
    assert client.get("/v1/searches", headers=headers).status_code == 200
    assert client.get("/v1/searches", headers={"Authorization": "Bearer "}).status_code == 401
    assert not (tmp_path / "data" / "api-token").exists()


@pytest.mark.parametrize("name,value,message", [
    ("EVOKT_PUBLIC_PREDICT", "maybe", "EVOKT_PUBLIC_PREDICT: expected true or false"),
    ("EVOKT_MAX_PREDICT_ROWS", "many", "EVOKT_MAX_PREDICT_ROWS: expected a int"),
    ("EVOKT_MAX_PREDICT_ROWS", "-3", "EVOKT_MAX_PREDICT_ROWS: must be positive"),
])
def test_settings_of_the_wrong_type_are_named_at_start(tmp_path, monkeypatch, name, value,
                                                       message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        create_app({"DATA_DIR": str(tmp_path / "data"), "API_TOKEN": TOKEN})


# JSON bodies ---------------------------------------------------------------------------------


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("path,body", [
    ("/v1/models/iris:predict", '{"instances": ' + nested(990, "[1, 2, 3, 4]") + "}"),
    ("/v1/models/iris:predict", '{"instances": ' + nested(100_000) + "}"),
    ("/v1/searches", '{"dataset": "iris", "oracle_options": ' + nested(100_000) + "}"),
    ("/v1/searches", '{"dataset": "iris", "oracle_options": {"initial_hps": '
     + nested(500, "{}") + "}}"),
])
def test_deeply_nested_json_is_400_not_a_crash(app, client, path, body):
    register_iris_model(app)
    response = client.post(path, data=body, headers=AUTH, content_type="application/json")
    assert response.status_code == 400, response.json
    assert "error" in response.json


def test_a_prediction_without_content_type_works_as_in_tf_serving(app, client):
    register_iris_model(app)
    response = client.post("/v1/models/iris:predict", headers=AUTH,
                           data=json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}))
    assert response.status_code == 200, response.json
    assert len(response.json["predictions"][0]) == 3


def test_prediction_bodies_have_their_own_smaller_limit(tmp_path):
    app = make_app(str(tmp_path / "data"), MAX_PREDICT_BYTES=4096, MAX_PREDICT_ROWS=50)
    register_iris_model(app)
    client = app.test_client()
    rows = [[5.1, 3.5, 1.4, 0.2]] * 400
    response = client.post("/v1/models/iris:predict", json={"instances": rows}, headers=AUTH)
    assert response.status_code == 413
    assert "error" in response.json
    response = client.post("/v1/models/iris:predict", json={"instances": rows[:60]},
                           headers=AUTH)
    assert response.status_code == 400
    assert response.json == {"error": "instances: at most 50 rows per request, got 60"}
    # Datasets keep the service's larger limit.
    assert client.post("/v1/searches", json={"dataset": "iris", "seed": 1},
                       headers=AUTH).status_code == 202


# Search options --------------------------------------------------------------------------------


@pytest.mark.parametrize("options,message", [
    ({"population_size": "abc"}, "oracle_options.population_size: must be an integer"),
    ({"population_size": -5}, "oracle_options.population_size: must be an integer"),
    ({"population_size": 10**12}, "oracle_options.population_size: must be an integer"),
    ({"crossover_prob": 5}, "oracle_options.crossover_prob: must be a number from 0 to 1"),
    ({"initial_hps": "x"}, "oracle_options.initial_hps: must be a list of objects"),
    ({"trial_timeout": "x"}, "oracle_options.trial_timeout: must be a number above 0"),
    ({"max_consecutive_failed_trials": -1},
     "oracle_options.max_consecutive_failed_trials: must be an integer from 1"),
    ({"sample_size": 50}, "oracle_options: `sample_size` must be between 1 and `population_size`"),
])
def test_bad_search_options_are_400_at_post_naming_the_field(app, client, options, message):
    response = client.post("/v1/searches", headers=AUTH,
                           json={"dataset": "iris", "oracle_options": options})
    assert response.status_code == 400
    assert response.json["error"].startswith(message), response.json
    assert client.get("/v1/searches", headers=AUTH).json["searches"] == []


def test_workers_are_capped_by_the_server(tmp_path):
    client = make_app(str(tmp_path / "data"), MAX_SEARCH_WORKERS=2).test_client()
    response = client.post("/v1/searches", headers=AUTH, json={"dataset": "iris", "workers": 64})
    assert response.status_code == 400
    assert response.json == {"error": "workers: this server runs at most 2 per search, got 64"}
    assert client.post("/v1/searches", headers=AUTH,
                       json={"dataset": "iris", "workers": 2}).status_code == 202


def test_worker_resources_need_a_ray_cluster_and_are_checked(tmp_path):
    local = make_app(str(tmp_path / "local")).test_client()
    response = local.post("/v1/searches", headers=AUTH,
                          json={"dataset": "iris", "worker_resources": "CPU=2"})
    assert response.status_code == 400
    assert response.json["error"].startswith("worker_resources: this server runs workers on "
                                             "this machine")
    ray = make_app(str(tmp_path / "ray"), RAY_ADDRESS="10.0.0.5:6379").test_client()
    response = ray.post("/v1/searches", headers=AUTH,
                        json={"dataset": "iris", "worker_resources": "CPU=two"})
    assert response.status_code == 400 and response.json["error"].startswith("worker_resources")
    response = ray.post("/v1/searches", headers=AUTH,
                        json={"dataset": "iris", "workers": 2, "worker_resources": "CPU=2,GPU=1"})
    assert response.status_code == 202
    assert response.json["worker_resources"] == "CPU=2,GPU=1" and response.json["cluster"] is None


def test_a_workers_file_being_rewritten_or_odd_reads_as_no_cluster(tmp_path):
    worker = {"id": "worker0", "state": "running", "node": "n1", "host": "10.0.0.7", "pid": 7,
              "gpus": ["0"], "resources": {"CPU": 1.0}, "trial": "3", "trials": ["1", "3"],
              "started": 1.5, "error": None}
    whole = {"engine": "ray", "address": "auto", "updated": 2.5, "workers": [worker]}
    path = tmp_path / "workers.json"
    path.write_text(json.dumps(whole))
    assert read_cluster(str(tmp_path)) == whole
    text = json.dumps(whole)
    for odd in (text[:len(text) // 2], "[]", "NaN",
                json.dumps({**whole, "engine": "slurm"}),
                json.dumps({**whole, "workers": [{**worker, "state": "zombie"}]}),
                json.dumps({**whole, "workers": [{**worker, "pid": True}]}),
                json.dumps({**whole, "workers": [{**worker, "trials": [3]}]}),
                json.dumps({**whole, "workers": [{k: v for k, v in worker.items()
                                                  if k != "host"}]}),
                json.dumps({**whole, "updated": float("inf")})):
        path.write_text(odd)
        assert read_cluster(str(tmp_path)) is None, odd
    path.unlink()
    assert read_cluster(str(tmp_path)) is None


# Event streams ---------------------------------------------------------------------------------


def test_event_streams_past_their_capacity_get_503_with_retry_after(tmp_path):
    app = make_app(str(tmp_path / "data"), MAX_EVENT_STREAMS=2)
    client = app.test_client()
    search = client.post("/v1/searches", json={"dataset": "iris"}, headers=AUTH).json
    path = f"/v1/searches/{search['id']}/events"
    open_streams = [client.get(path, headers=AUTH, buffered=False) for _ in range(2)]
    refused = client.get(path, headers=AUTH)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert refused.json == {"error": "too many open event streams; retry later"}
    open_streams[0].close()
    again = client.get(path, headers=AUTH, buffered=False)
    assert again.status_code == 200
    again.close()
    open_streams[1].close()


def test_an_event_stream_ends_after_its_lifetime_with_a_retry_hint(tmp_path):
    app = make_app(str(tmp_path / "data"), EVENT_STREAM_SECONDS=0.2)
    client = app.test_client()
    search = client.post("/v1/searches", json={"dataset": "iris"}, headers=AUTH).json
    text = client.get(f"/v1/searches/{search['id']}/events", headers=AUTH).get_data(as_text=True)
    blocks = [block for block in text.split("\n\n") if block]
    assert blocks[0].startswith("event: progress")
    assert blocks[-1] == "retry: 1000"


# Model cache -----------------------------------------------------------------------------------


class GatedCache(ModelCache):
    """A cache whose loading of version 2 waits until the test opens the gate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.loading = threading.Event()

    def _load(self, record):
        if record["version"] == 2:
            self.loading.set()
            self.gate.wait(30)
        return super()._load(record)


def test_loading_a_version_never_blocks_predictions_of_loaded_ones(app):
    register_iris_model(app, version=1)
    register_iris_model(app, version=2)
    from service_helpers import store_of

    store = store_of(app)
    cache = GatedCache(app.extensions["evokt.layout"], size=8)
    first = cache.get(store.model_version("iris", 1))
    loader = threading.Thread(target=cache.get, args=(store.model_version("iris", 2),))
    loader.start()
    assert cache.loading.wait(30)
    # Version 2 is loading and holds no lock that version 1 needs.
    assert cache.get(store.model_version("iris", 1)) is first
    cache.gate.set()
    loader.join(30)
    assert cache.get(store.model_version("iris", 2)).version == 2
