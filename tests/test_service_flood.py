"""The HTTP layer under floods and malformed requests: real gunicorn with two workers, real
sockets on 127.0.0.1. Each test is a finding of a review of `evokt serve`, reproduced."""

import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time

import pytest
from service_helpers import AUTH
from service_helpers import TOKEN
from service_helpers import answer
from service_helpers import connect
from service_helpers import register_iris_model

from evokt.search.distributed import free_port
from evokt.service.app import create_app
from evokt.service.serve import ServeOptions
from evokt.service.serve import gunicorn_command
from evokt.service.serve import wait_until_ready

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))

from soak import IdleSockets  # noqa: E402

PREDICTION = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]})
MAX_PREDICT_BYTES = 64 * 1024
MAX_CONTENT_LENGTH = 256 * 1024
STREAMS = 6
FLOOD = 5000
HEADER_SECONDS = 4


def allow_open_files(count: int) -> None:
    """Raises this process's soft limit on open files to `count`, or skips the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"needs {count} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


def start_gunicorn(tmp_path, data_dir: str, options: ServeOptions, **env: str):
    """The real gunicorn with evokt's worker (no runner: searches stay PENDING)."""
    env = {**os.environ, "EVOKT_DATA_DIR": data_dir, "EVOKT_API_TOKEN": TOKEN,
           "EVOKT_MAX_EVENT_STREAMS": str(options.max_event_streams), **env}
    with open(tmp_path / f"gunicorn-{options.port}.log", "wb") as log:
        process = subprocess.Popen(gunicorn_command(options), env=env, stdout=log, stderr=log)
    try:
        wait_until_ready(f"http://127.0.0.1:{options.port}/v2/health/live", 60, process)
    except TimeoutError:
        process.kill()
        raise
    return process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """Two workers sharing 6 event streams, a 4-second header deadline, small body limits,
    and an iris model that each worker has loaded."""
    allow_open_files(FLOOD + 1000)
    tmp_path = tmp_path_factory.mktemp("flood")
    data_dir = str(tmp_path / "data")
    register_iris_model(create_app({"DATA_DIR": data_dir, "API_TOKEN": TOKEN}))
    options = ServeOptions(port=free_port(), data_dir=data_dir, workers=2,
                           max_event_streams=STREAMS)
    process = start_gunicorn(tmp_path, data_dir, options, EVOKT_WARM_MODELS="true",
                             EVOKT_HEADER_SECONDS=str(HEADER_SECONDS),
                             EVOKT_EVENTS_POLL_SECONDS="0.1",
                             EVOKT_MAX_PREDICT_BYTES=str(MAX_PREDICT_BYTES),
                             EVOKT_MAX_CONTENT_LENGTH=str(MAX_CONTENT_LENGTH))
    try:
        # Enough predictions that both workers have answered one (loading is done).
        for _ in range(10):
            assert timed(options.port, "POST", "/v1/models/iris:predict", PREDICTION,
                         timeout=120)[0] == 200
        yield options.port
    finally:
        stop(process)


def timed(port: int, method: str, path: str, body: str | None = None,
          timeout: float = 10) -> tuple[int | str, float]:
    """Status (or the error's name) and seconds of one request on a new connection."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body, AUTH)
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, time.perf_counter() - started
    finally:
        connection.close()


def latencies_under(idle: IdleSockets, seconds: float, requests: dict[str, tuple]) -> dict:
    """Runs `idle` for `seconds`, sending each of `requests` (name: `timed` arguments)
    over and over meanwhile, on new connections.

    Returns:
        name -> [(status, seconds), ...].
    """
    stopped = threading.Event()
    flood = threading.Thread(target=idle.run, args=(stopped,))
    flood.start()
    results = {name: [] for name in requests}
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for name, arguments in requests.items():
                results[name].append(timed(*arguments))
            time.sleep(0.1)
    finally:
        stopped.set()
        flood.join(60)
    return results


def assert_fast(results: dict) -> None:
    for name, answers in results.items():
        statuses = {status for status, _ in answers}
        seconds = sorted(latency for _, latency in answers)
        p50, p95 = statistics.median(seconds), seconds[int(0.95 * (len(seconds) - 1))]
        assert statuses == {200}, (name, statuses)
        assert p95 < 1.0, f"{name}: p50 {p50:.3f} s, p95 {p95:.3f} s, max {seconds[-1]:.3f} s"


def open_stream(port: int, search_id: str):
    """A raw connection that asked for the search's event stream, and the answer's
    status, headers and body (only what came with the headers, for a stream)."""
    sock = connect(port)
    sock.sendall(f"GET /v1/searches/{search_id}/events HTTP/1.1\r\nHost: t\r\n"
                 f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
    return sock, *answer(sock)


def open_streams(port: int, search_id: str, count: int, timeout: float = 10) -> list:
    """`count` open event streams, waiting (up to `timeout`) for slots that streams
    closed just before are still freeing."""
    streams = []
    deadline = time.monotonic() + timeout
    while len(streams) < count:
        sock, status, _, _ = open_stream(port, search_id)
        if status == 200:
            streams.append(sock)
            continue
        sock.close()
        assert status == 503 and time.monotonic() < deadline, status
        time.sleep(0.1)
    return streams


def new_search(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/v1/searches", json.dumps({"dataset": "iris"}),
                       {**AUTH, "Content-Type": "application/json"})
    search_id = json.loads(connection.getresponse().read())["id"]
    connection.close()
    return search_id


# Idle sockets -------------------------------------------------------------------------------


def test_5000_idle_sockets_leave_probes_and_predictions_answering_within_a_second(service):
    port = service
    streams = open_streams(port, new_search(port), STREAMS)
    idle = IdleSockets(port, FLOOD)
    # Longer than the headers' deadline, so the sockets are cut off and reconnect.
    results = latencies_under(idle, 2 * HEADER_SECONDS + 1, {
        "probe": (port, "GET", "/v2/health/live"),
        "prediction": (port, "POST", "/v1/models/iris:predict", PREDICTION),
    })
    for sock in streams:
        sock.close()
    assert_fast(results)
    # The server held them all until their deadline, none were left in the backlog.
    cut_off = idle.answers[f"408 the request's headers did not arrive within {HEADER_SECONDS} "
                           "seconds"]
    assert cut_off >= FLOOD * 0.8, dict(idle.answers)


def test_a_full_worker_closes_its_oldest_unfinished_requests_for_new_ones(tmp_path):
    allow_open_files(2000)
    data_dir = str(tmp_path / "data")
    options = ServeOptions(port=free_port(), data_dir=data_dir, workers=1, max_event_streams=2)
    process = start_gunicorn(tmp_path, data_dir, options, EVOKT_MAX_CONNECTIONS="300")
    try:
        # Three times what the worker may hold, each reconnected when closed.
        idle = IdleSockets(options.port, 900)
        results = latencies_under(idle, 8, {
            "probe": (options.port, "GET", "/v2/health/live"),
            "authenticated read": (options.port, "GET", "/v1/searches"),
        })
    finally:
        stop(process)
    assert_fast(results)
    # Closed long before the headers' own deadline (10 s) to make room.
    assert idle.answers["408 the request's headers did not arrive in time; the server is at "
                        "its connection limit"] > 900, dict(idle.answers)


# Event streams ------------------------------------------------------------------------------


def test_the_event_stream_capacity_is_the_services_whichever_worker_holds_them(service):
    port = service
    search_id = new_search(port)
    streams = open_streams(port, search_id, STREAMS)
    refused, status, headers, body = open_stream(port, search_id)
    refused.close()
    assert status == 503 and headers["Retry-After"] == "5"
    assert json.loads(body) == {"error": "too many open event streams; retry later"}
    # A stream whose client left ends, freeing its slot, within the poll interval.
    streams.pop().close()
    streams += open_streams(port, search_id, 1, timeout=5)
    extra, status, _, _ = open_stream(port, search_id)
    extra.close()
    assert status == 503
    for sock in streams:
        sock.close()


# Malformed requests -------------------------------------------------------------------------


def chunks(body: bytes, size: int = 16 * 1024) -> bytes:
    """`body` in chunked transfer coding."""
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


def rows(count: int) -> bytes:
    return json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]] * count}).encode()


def search_body(size: int) -> bytes:
    """A valid search of about `size` bytes (JSON allows any amount of whitespace)."""
    return b'{"dataset": "iris"' + b" " * size + b"}"


PREDICT = "/v1/models/iris:predict"


@pytest.mark.parametrize("path,payload,status,message", [
    (PREDICT, b"ZZ\r\n{}\r\n0\r\n\r\n", 400,
     "the request body's chunked coding is malformed: Invalid chunk size: b'ZZ'"),
    ("/v1/searches", b"5\r\nabc\r\n0\r\n\r\n", 400,
     "the request body's chunked coding is malformed: Invalid chunk terminator"),
    (PREDICT, chunks(rows(3000)), 413,
     f"the request body is over the limit of {MAX_PREDICT_BYTES} bytes"),
    ("/v1/searches", chunks(search_body(MAX_CONTENT_LENGTH)), 413,
     f"the request body is over the limit of {MAX_CONTENT_LENGTH} bytes"),
    ("/v1/searches", chunks(search_body(MAX_PREDICT_BYTES)), 202, ""),
    (PREDICT, chunks(rows(1)), 200, ""),
])
def test_chunked_bodies_malformed_or_over_their_limit_are_400_and_413(
        service, path, payload, status, message):
    sock = connect(service)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n"
                 f"Transfer-Encoding: chunked\r\n\r\n".encode() + payload)
    answered, headers, body = answer(sock)
    sock.close()
    assert answered == status, body
    assert headers["Content-Type"] == "application/json"
    if message:
        assert json.loads(body)["error"].startswith(message)


@pytest.mark.parametrize("path", ["/v1//models", "/v2//health/live", "/v1/models//iris"])
def test_paths_with_double_slashes_are_json_404s_not_html_redirects(service, path):
    sock = connect(service)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
                 .encode())
    status, headers, body = answer(sock)
    sock.close()
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert "error" in json.loads(body)
