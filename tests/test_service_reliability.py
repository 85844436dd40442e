"""The service under attack and under faults: real gunicorn, real sockets on 127.0.0.1,
real `kill -9`s. Each test is a finding of a review of `evokt serve`, reproduced."""

import json
import os
import select
import signal
import socket
import stat
import subprocess
import time
import urllib.request

import pytest
from helpers import EVOKT
from helpers import iris_rows
from helpers import write_csv
from service_helpers import TOKEN
from service_helpers import answer
from service_helpers import children_of
from service_helpers import connect
from service_helpers import process_gone
from service_helpers import register_iris_model
from service_helpers import running_runner
from service_helpers import running_server
from service_helpers import wait_for_record

from evokt.search.distributed import free_port
from evokt.search.spec import SearchSpec
from evokt.service.app import create_app
from evokt.service.layout import DataLayout
from evokt.service.serve import ServeOptions
from evokt.service.serve import gunicorn_command
from evokt.service.serve import wait_until_ready
from evokt.service.store import JobStore
from evokt.service.versions import register_model

# Processes and the data directory ---------------------------------------------------------


def test_a_second_server_on_the_same_data_directory_exits_2(tmp_path):
    with running_server(tmp_path, "--workers", "1") as (_, data_dir, first):
        second = subprocess.run(
            [EVOKT, "serve", "--port", str(free_port()), "--data-dir", str(data_dir)],
            env={**os.environ, "EVOKT_API_TOKEN": TOKEN}, capture_output=True, text=True,
            timeout=60)
        assert second.returncode == 2
        assert second.stderr.strip() == (
            f"evokt: error: the data directory {data_dir} is in use by process "
            f"{first.pid}; stop it first")
        assert "Traceback" not in second.stderr
        assert len(children_of(first.pid)) == 2  # the first server's runner and gunicorn


def test_kill_9_of_serve_takes_its_children_along_and_a_restart_works(tmp_path):
    port = free_port()
    with running_server(tmp_path, "--workers", "1", port=port) as (_, data_dir, process):
        children = children_of(process.pid)
        assert len(children) == 2
        process.kill()
        process.wait()
        assert all(process_gone(child) for child in children)
    with running_server(tmp_path, "--workers", "1", port=port, data_dir=data_dir) as (client, *_):
        assert client.request("GET", "/v2/health/live")[0] == 200


def test_files_are_readable_by_their_owner_only(tmp_path):
    path = write_csv(tmp_path / "iris.csv", ["sl", "sw", "pl", "pw", "species"], iris_rows())
    with running_server(tmp_path, "--workers", "1") as (client, data_dir, _):
        status, dataset, _ = client.upload(path, "iris.csv", {"target": "species"})
        assert status == 201, dataset
        modes = {}
        for folder, folders, files in os.walk(data_dir):
            for name in [*folders, *files, ""]:
                path = os.path.join(folder, name)
                modes[os.path.relpath(path, data_dir)] = stat.S_IMODE(os.stat(path).st_mode)
    assert {"evokt.sqlite3", f"datasets/{dataset['id']}/data.csv", "serve.lock"} <= set(modes)
    for path, mode in modes.items():
        expected = 0o700 if os.path.isdir(os.path.join(data_dir, path)) else 0o600
        assert mode == expected, (path, oct(mode))


@pytest.mark.parametrize("token,message", [
    ("", "the API token from EVOKT_API_TOKEN is empty"),
    ("0", "the API token from EVOKT_API_TOKEN is 1 characters"),
    ("123456", "the API token from EVOKT_API_TOKEN is 6 characters"),
])
def test_serve_refuses_an_empty_or_short_token_from_the_environment(tmp_path, token, message):
    result = subprocess.run(
        [EVOKT, "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "data")],
        env={**os.environ, "EVOKT_API_TOKEN": token}, capture_output=True, text=True,
        timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(f"evokt: error: {message}")
    assert "Traceback" not in result.stderr


def test_serve_refuses_an_empty_token_file(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "api-token").write_text("")
    env = {key: value for key, value in os.environ.items() if key != "EVOKT_API_TOKEN"}
    result = subprocess.run(
        [EVOKT, "serve", "--port", str(free_port()), "--data-dir", str(data_dir)],
        env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"the API token from {data_dir / 'api-token'} is empty" in result.stderr


def test_registering_a_searchs_model_twice_gives_one_version(tmp_path):
    layout = DataLayout(str(tmp_path / "data"))
    store = JobStore(layout.root)
    spec = SearchSpec(dataset="iris")
    store.add_search("once", spec.to_dict(), "iris", "flowers", max_pending=5)
    export = layout.export_dir("once")
    os.makedirs(export)
    with open(os.path.join(export, "model.keras"), "w") as file:
        file.write("weights")
    objective = {"name": "val_accuracy", "direction": "max"}
    best = {"data": {"task": "classification", "input_shape": [4], "class_labels": [0, 1, 2],
                     "feature_names": None},
            "objective": objective, "objectives": [{**objective, "value": 0.9}], "score": 0.9,
            "measures": {"params": 99.0}, "trial_id": "3", "strategy": "genetic",
            "hyperparameters": {}}
    with open(os.path.join(export, "best.json"), "w") as file:
        json.dump(best, file)
    assert register_model(store, layout, "once", "flowers", export) == 1
    assert register_model(store, layout, "once", "flowers", export) == 1
    assert [record["version"] for record in store.model_versions("flowers")] == [1]
    assert os.listdir(os.path.dirname(layout.model_dir("flowers", 1))) == ["1"]


# Slow clients, event streams and raw protocol errors ------------------------------------


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The real gunicorn with evokt's worker (no runner, so searches stay PENDING):
    one worker of 4 request threads and 8 event-stream threads, 2-second header and
    body deadlines, and an iris model to predict with."""
    tmp_path = tmp_path_factory.mktemp("web")
    data_dir = str(tmp_path / "data")
    app = create_app({"DATA_DIR": data_dir, "API_TOKEN": TOKEN})
    register_iris_model(app)
    port = free_port()
    options = ServeOptions(port=port, data_dir=data_dir, workers=1, threads=4,
                           max_event_streams=8)
    env = {**os.environ, "EVOKT_DATA_DIR": data_dir, "EVOKT_API_TOKEN": TOKEN,
           "EVOKT_MAX_EVENT_STREAMS": "8", "EVOKT_HEADER_SECONDS": "2",
           "EVOKT_BODY_READ_SECONDS": "2"}
    with open(tmp_path / "gunicorn.log", "wb") as log:
        process = subprocess.Popen(gunicorn_command(options), env=env, stdout=log, stderr=log)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/v2/health/live", 60, process)
        # The first prediction imports TensorFlow and loads the model.
        assert get(port, "/v1/models/iris:predict", PREDICTION, timeout=120)[0] == 200
        yield port
    finally:
        process.terminate()
        process.wait(60)


PREDICTION = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()


def answered(socks: list[socket.socket]) -> list[socket.socket]:
    """Those of `socks` on which the server has answered (or closed) by now."""
    return select.select(socks, [], [], 0)[0]


def trickle_until_answered(socks: list[socket.socket], byte: bytes, timeout: float = 120) -> int:
    """Sends `byte` on each of `socks` every 0.3 s until the server has answered on each.

    A byte comes well within any per-read timeout, so only a deadline for the
    whole request part being sent ends the wait; `timeout` only bounds a
    server that never answers.

    Args:
        socks: Connections in the middle of sending a request.
        byte: What to send next on each.
        timeout: Seconds after which the test fails.

    Returns:
        The most bytes sent on one connection.
    """
    waiting = list(socks)
    give_up = time.monotonic() + timeout
    sent = 0
    while waiting:
        assert time.monotonic() < give_up, f"no answer on {len(waiting)} connections"
        done = select.select(waiting, [], [], 0.3)[0]
        waiting = [sock for sock in waiting if sock not in done]
        for sock in waiting:
            try:
                sock.sendall(byte)
            except OSError:
                pass  # closed since the select: its answer is waiting to be read
        sent += bool(waiting)
    return sent


def get(port: int, path: str, body: bytes | None = None, auth: bool = True,
        timeout: float = 10) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body,
        headers={"Authorization": f"Bearer {TOKEN}"} if auth else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_open_streams_and_slow_sockets_leave_probes_and_predictions_answering(web):
    port = web
    search = get(port, "/v1/searches", json.dumps({"dataset": "iris"}).encode())[1]
    stream_request = (f"GET /v1/searches/{search['id']}/events HTTP/1.1\r\nHost: t\r\n"
                      f"Authorization: Bearer {TOKEN}\r\n\r\n").encode()
    streams = []
    for _ in range(8):
        sock = connect(port)
        sock.sendall(stream_request)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        streams.append(sock)
    ninth = connect(port)
    ninth.sendall(stream_request)
    status, headers, body = answer(ninth)
    assert status == 503 and headers["Retry-After"] == "5"
    assert json.loads(body) == {"error": "too many open event streams; retry later"}

    # Unauthenticated bodies a byte at a time: refused at once, the body never awaited.
    slow_bodies = [connect(port) for _ in range(12)]
    for sock in slow_bodies:
        sock.sendall(b"POST /v1/searches HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n"
                     b"Content-Type: application/json\r\n\r\n{")
    for sock in slow_bodies:
        status, _, body = answer(sock)
        assert status == 401 and json.loads(body) == {"error": "missing or wrong bearer token"}
    # Headers a byte at a time hold no thread: with 4 request threads and 8 open
    # streams, probes and predictions are answered while 24 such sockets still
    # wait for their answer. Should the headers' 2-second deadline pass first (a
    # loaded machine), the round proves nothing and runs again on new sockets.
    give_up = time.monotonic() + 120
    while True:
        slow_headers = [connect(port) for _ in range(24)]
        for sock in slow_headers:
            sock.sendall(b"GET /v1/searches HTTP/1.1\r\nHost: t\r\n")
        for _ in range(3):
            for sock in slow_headers:
                sock.sendall(b"x")
            assert get(port, "/v2/health/live", auth=False) == (200, {"live": True})
            status, predicted = get(port, "/v1/models/iris:predict", PREDICTION)
            assert status == 200 and len(predicted["predictions"][0]) == 3
        if not answered(slow_headers):
            break
        for sock in slow_headers:
            sock.close()
        assert time.monotonic() < give_up, "every round outlasted the headers' deadline"
    # However they trickle, they are cut off at their deadline.
    trickle_until_answered(slow_headers, b"x")
    for sock in slow_headers:
        status, _, body = answer(sock)
        assert status == 408
        assert json.loads(body) == {
            "error": "the request's headers did not arrive within 2 seconds"}
    for sock in streams + [ninth, *slow_headers, *slow_bodies]:
        sock.close()


@pytest.mark.parametrize("framing,trickled", [
    ("Content-Length: 100", b" "),
    ("Transfer-Encoding: chunked", b"1"),  # a chunk-size line that never ends
    ("Content-Length: 100", b""),  # nothing at all
], ids=["length", "chunked", "silent"])
def test_an_authenticated_body_sent_too_slowly_is_cut_off_with_408(web, framing, trickled):
    sock = connect(web)
    sock.sendall(f"POST /v1/searches HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n"
                 f"{framing}\r\nContent-Type: application/json\r\n\r\n{{".encode())
    # Cut off at the deadline (a few bytes in), not when the body is all in (99 bytes,
    # 30 s of trickling, each byte well within any socket timeout): the body is
    # not JSON, so that would have been a 400.
    assert trickle_until_answered([sock], trickled) < 50
    status, _, body = answer(sock)
    assert status == 408
    assert json.loads(body) == {"error": "the request body did not arrive within 2 seconds"}
    sock.close()


@pytest.mark.parametrize("request_bytes,status,message", [
    (b"GARBAGE\r\n\r\n", 400, "Invalid"),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, ""),
    (b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(120))
     + b"\r\n", 431, ""),
    (b"POST /v1/searches HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: bogus\r\n\r\n", 501, "bogus"),
])
def test_errors_gunicorn_answers_itself_are_json(web, request_bytes, status, message):
    sock = connect(web)
    sock.sendall(request_bytes)
    answered, headers, body = answer(sock)
    sock.close()
    assert answered == status
    assert headers["Content-Type"] == "application/json"
    assert message in json.loads(body)["error"]


# A search process killed mid-trial ----------------------------------------------------------


def test_a_killed_search_process_resumes_and_ends_with_exactly_max_trials(tmp_path):
    data_dir = str(tmp_path / "data")
    store = JobStore(data_dir)
    spec = SearchSpec(dataset="iris", hypermodel="mlp", max_trials=4, epochs=2)
    store.add_search("killed", spec.to_dict(), "iris", "iris-model", max_pending=10)
    with open(tmp_path / "runner.log", "wb") as log, running_runner(data_dir, log):
        record = wait_for_record(store, "killed", lambda r: r["trials_done"] >= 1)
        os.kill(record["pid"], signal.SIGKILL)
        done = wait_for_record(store, "killed", lambda r: r["state"] != "RUNNING")
    assert done["state"] == "SUCCEEDED", done["error"]
    assert done["restarts"] == 1 and done["trials_done"] == 4
    trials = store.trials("killed")
    assert len(trials) == 4 and all(t["status"] == "COMPLETED" for t in trials)
    assert len({json.dumps(t["hyperparameters"], sort_keys=True) for t in trials}) == 4
    assert [v["version"] for v in store.model_versions("iris-model")] == [1]


def test_a_search_process_that_keeps_dying_fails_with_one_clean_line(tmp_path):
    data_dir = str(tmp_path / "data")
    store = JobStore(data_dir)
    spec = SearchSpec(dataset="iris", hypermodel="mlp", max_trials=4, epochs=2)
    store.add_search("doomed", spec.to_dict(), "iris", "iris-model", max_pending=10)
    killed = set()
    with open(tmp_path / "runner.log", "wb") as log, running_runner(data_dir, log):
        while len(killed) < 4:
            record = wait_for_record(store, "doomed", lambda r: r["state"] in (
                "SUCCEEDED", "FAILED") or (r["pid"] is not None and r["pid"] not in killed))
            if record["state"] != "RUNNING":
                break
            os.kill(record["pid"], signal.SIGKILL)
            killed.add(record["pid"])
        done = wait_for_record(store, "doomed", lambda r: r["state"] != "RUNNING")
    assert len(killed) == 4
    assert done["state"] == "FAILED"
    assert done["error"] == "the search process died 4 times; last killed by SIGKILL"
