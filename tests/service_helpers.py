"""Helpers for the service tests: apps on temporary data, models, validation."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import keras_tuner
import pytest
import schemathesis
from helpers import EVOKT

from evokt.hypermodels import MLPHyperModel
from evokt.hypermodels.data import load_builtin
from evokt.search.distributed import free_port
from evokt.search.layout import MODEL_FILE
from evokt.service.app import create_app
from evokt.service.layout import DataLayout
from evokt.service.openapi import DOCUMENT
from evokt.service.serve import wait_until_ready
from evokt.service.store import JobStore

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)


class Client:
    """A minimal JSON client over real HTTP."""

    def __init__(self, base: str):
        self.base = base

    def request(self, method: str, path: str, body=None, headers=None, raw: bytes | None = None):
        headers = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), error.headers

    def upload(self, path: str, filename: str, fields: dict[str, str]):
        boundary = "evokt-test-boundary"
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                         f"\r\n\r\n{value}\r\n".encode())
        with open(path, "rb") as file:
            content = file.read()
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
                     + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", "/v1/datasets", raw=b"".join(parts),
                            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def wait_for(self, search_id: str, states: set[str], timeout: float = 240):
        """The search once it is in one of `states`; fails the test after `timeout`."""
        return self.wait_until(search_id, lambda search: search["state"] in states, timeout)

    def wait_until(self, search_id: str, condition, timeout: float = 240):
        """The search once `condition(search)` holds; fails the test after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, search, _ = self.request("GET", f"/v1/searches/{search_id}")
            if condition(search):
                return search
            time.sleep(0.5)
        pytest.fail(f"search {search_id} never got there; last {search}")


@contextlib.contextmanager
def running_server(tmp_path, *flags: str, env: dict | None = None, data_dir=None,
                   port: int | None = None):
    """`evokt serve` on 127.0.0.1 with `flags`, stopped (SIGTERM) at the end.

    Yields:
        (Client, the data directory, the serve process).
    """
    port = port or free_port()
    data_dir = data_dir or tmp_path / "data"
    log = open(tmp_path / f"serve-{port}.log", "ab")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [EVOKT, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
         *flags],
        env={**os.environ, "EVOKT_API_TOKEN": TOKEN, **(env or {})},
        stdout=subprocess.DEVNULL, stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base + "/v2/health/ready", 90, process)
        yield Client(base), data_dir, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
        log.close()


def connect(port: int) -> socket.socket:
    """A raw connection to the server on 127.0.0.1:`port`."""
    return socket.create_connection(("127.0.0.1", port), timeout=20)


def answer(sock: socket.socket) -> tuple[int, dict, bytes]:
    """Status, headers and body of the one response on `sock` (read to its end)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(headers.get("Content-Length", headers.get("content-length", "-1")))
    while length >= 0 and len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def children_of(pid: int, count: int = 2, timeout: float = 30) -> list[int]:
    """The process's children, once there are `count` of them (serve starts its
    runner just after gunicorn answers)."""
    deadline = time.monotonic() + timeout
    while True:
        result = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        children = [int(child) for child in result.stdout.split()]
        if len(children) >= count or time.monotonic() > deadline:
            return children
        time.sleep(0.1)


def wait_for_record(store: JobStore, search_id: str, condition, timeout: float = 240):
    """The job store's record once `condition(record)` holds; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = store.search(search_id)
        if condition(record):
            return record
        time.sleep(0.1)
    pytest.fail(f"search {search_id} never got there; last {store.search(search_id)}")


def process_gone(pid: int, timeout: float = 15) -> bool:
    """Whether process `pid` has ended within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def start_runner(data_dir: str, log=subprocess.DEVNULL, env: dict | None = None
                 ) -> subprocess.Popen:
    """The real search runner on `data_dir`, with `env` added to the environment."""
    return subprocess.Popen([sys.executable, "-m", "evokt.service.runner", "--data-dir", data_dir],
                            stdout=log, stderr=log, env={**os.environ, **(env or {})})


@contextlib.contextmanager
def running_runner(data_dir: str, log=subprocess.DEVNULL, env: dict | None = None):
    """`start_runner`, stopped (SIGTERM) at the end.

    Yields:
        The runner's process.
    """
    runner = start_runner(data_dir, log, env)
    try:
        yield runner
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(60)


def make_app(data_dir: str, **config):
    return create_app({"DATA_DIR": data_dir, "API_TOKEN": TOKEN, "TESTING": True,
                       "EVENTS_POLL_SECONDS": 0.05, **config})


def conforms(response, path: str, method: str) -> None:
    """Raises unless `response` matches the OpenAPI document's description."""
    SCHEMA[path][method.upper()].validate_response(response)


def register_iris_model(app, name: str = "iris", version: int = 1):
    """Builds a small iris classifier and registers it as `name` version `version`.

    Returns:
        The Keras model, to compare predictions with.
    """
    iris = load_builtin("iris")
    hypermodel = MLPHyperModel(iris.input_shape, num_classes=3, feature_mean=iris.feature_mean,
                               feature_variance=iris.feature_variance)
    hp = keras_tuner.HyperParameters()
    hp.Fixed("num_layers", 1)
    model = hypermodel.build(hp)
    model.fit(iris.x_train, iris.y_train, epochs=1, verbose=0)
    return register_model(app, model, name, version,
                          class_labels=["setosa", "versicolor", "virginica"])


def register_model(app, model, name: str, version: int = 1,
                   class_labels: list[str] | None = None):
    """Saves a Keras model of one input and registers it as `name` version `version`
    (a classifier of `class_labels`, else a regression).

    Returns:
        `model`.
    """
    layout: DataLayout = app.extensions["evokt.layout"]
    directory = layout.model_dir(name, version)
    os.makedirs(directory)
    model.save(os.path.join(directory, MODEL_FILE))
    input_shape = [int(size) for size in model.inputs[0].shape[1:]]
    metadata = {
        "name": name, "search_id": None,
        "task": "classification" if class_labels else "regression", "input_shape": input_shape,
        "class_labels": class_labels,
        "feature_names": [f"x{index}" for index in range(input_shape[-1])],
        "objective": ({"name": "val_accuracy", "direction": "max"} if class_labels
                      else {"name": "val_loss", "direction": "min"}),
        "score": 0.9, "trial_id": "0", "strategy": "genetic", "hyperparameters": {},
    }
    with store_of(app).transaction() as connection:
        connection.execute(
            "INSERT INTO model_versions (name, version, search_id, metadata, created)"
            " VALUES (?, ?, NULL, ?, 0)", (name, version, json.dumps(metadata)))
    return model


def store_of(app) -> JobStore:
    """A connection of the test's own to the app's job store."""
    return JobStore(app.config["DATA_DIR"])
