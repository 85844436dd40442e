"""Searches whose workers are Ray actors, on a real multi-node Ray cluster.

The cluster is `ray.cluster_utils.Cluster` on this machine: a head with no
CPUs (so no worker lands there) and worker nodes of one CPU each, each Ray
node a set of processes of its own with its own temporary directories. Ray's
token authentication is on, with a token of the module's own (never
`~/.ray/auth_token`); the `evokt` processes get it from their environment,
as a client of a real cluster does. The module shuts its cluster down by its
own handle (never `ray stop`).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time

import keras
import pytest
from helpers import EVOKT
from helpers import trial_statuses
from service_helpers import running_server

from evokt.search.layout import WORKERS_FILE


@pytest.fixture(scope="module")
def cluster():
    """A head without CPUs; tests add the worker nodes they need."""
    with pytest.MonkeyPatch.context() as patch:
        # The nodes and every `evokt` process started below inherit these.
        patch.setenv("RAY_AUTH_MODE", "token")
        patch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        # Imported after the variables are set: Ray reads its mode once.
        cluster_utils = pytest.importorskip("ray.cluster_utils", reason="needs the ray extra")
        head = cluster_utils.Cluster(initialize_head=True, head_node_args={
            "num_cpus": 0, "include_dashboard": False})
        try:
            yield head
        finally:
            head.shutdown()


@pytest.fixture
def nodes(cluster):
    """Adds `count` worker nodes of one CPU each; removes what is left of them after the test."""
    added = []

    def add(count: int) -> list:
        for _ in range(count):
            added.append(cluster.add_node(num_cpus=1))
        cluster.wait_for_nodes()
        return added[-count:]

    yield add
    for node in added:
        if node in cluster.worker_nodes:
            cluster.remove_node(node, allow_graceful=False)


def read_workers(project) -> dict | None:
    try:
        return json.loads((project / WORKERS_FILE).read_text())
    except (OSError, ValueError):
        return None


def running_search(project, *flags: str) -> subprocess.Popen:
    return subprocess.Popen([EVOKT, "search", *flags, "--project-dir", str(project)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_two_ray_workers_on_two_nodes_run_the_search_and_the_chief_exports_it(
        tmp_path, cluster, nodes):
    nodes(2)
    project, output = tmp_path / "search", tmp_path / "model"
    search = running_search(
        project, "--dataset", "iris", "--max-trials", "4", "--epochs", "1", "--workers", "2",
        "--ray", cluster.address, "--worker-resources", "CPU=1", "--output", str(output))
    _, stderr = search.communicate(timeout=300)
    assert search.returncode == 0, stderr[-3000:]
    statuses = trial_statuses(project)
    assert len(statuses) == 4 and all(status == "COMPLETED" for status, _, _ in statuses.values())
    # Each worker trained in a directory of its own node; the checkpoints
    # reached the chief's project through its port.
    for trial_id in statuses:
        assert (project / f"trial_{trial_id}" / "checkpoint.weights.h5").exists()
    workers = read_workers(project)
    assert workers["engine"] == "ray" and workers["address"] == cluster.address
    records = workers["workers"]
    assert [record["state"] for record in records] == ["left", "left"]
    assert len({record["node"] for record in records}) == 2  # one CPU on each node
    assert all(record["resources"] == {"CPU": 1.0} for record in records)
    assert sorted(sum((record["trials"] for record in records), [])) == sorted(statuses)
    assert os.environ["RAY_AUTH_TOKEN"] not in stderr
    model = keras.saving.load_model(str(output / "model.keras"), safe_mode=True)
    assert model.output_shape == (None, 3)
    assert json.loads((output / "best.json").read_text())["trial_id"] in statuses


def test_a_node_killed_mid_promotion_hands_it_to_a_worker_on_another_node(
        tmp_path, cluster, nodes):
    both = nodes(2)
    project, output = tmp_path / "search", tmp_path / "model"
    search = running_search(
        project, "--dataset", "digits", "--hypermodel", "cnn", "--oracle", "genetic-hyperband",
        "--epochs", "3", "--max-epochs-budget", "9", "--workers", "1",
        "--ray", cluster.address, "--output", str(output))
    try:
        promoted, deadline = None, time.monotonic() + 240
        while promoted is None and time.monotonic() < deadline:
            statuses = trial_statuses(project) if project.exists() else {}
            promoted = next((trial_id for trial_id, (status, _, values) in statuses.items()
                             if status == "RUNNING" and "tuner/trial_id" in values), None)
            time.sleep(0.05)
        assert promoted is not None, "no promotion ever ran"
        worker = read_workers(project)["workers"][0]
        killed = next(node for node in cluster.worker_nodes if node.node_id == worker["node"])
        cluster.remove_node(killed, allow_graceful=False)  # its worker was training `promoted`
        _, stderr = search.communicate(timeout=300)
    finally:
        if search.poll() is None:
            search.kill()
    assert search.returncode == 0, stderr[-3000:]
    statuses = trial_statuses(project)
    assert all(status == "COMPLETED" for status, _, _ in statuses.values())
    values = {trial_id: json.loads(text) for trial_id, (_, _, text) in statuses.items()}
    # Every epoch of the budget counted once: the lost run is not.
    assert sum(trial["tuner/epochs"] - trial["tuner/initial_epoch"]
               for trial in values.values()) == 9
    lost, *replacements = read_workers(project)["workers"]
    assert lost["state"] == "lost" and lost["node"] == worker["node"] and lost["error"]
    assert lost["trials"][-1] == promoted
    again = next(record for record in replacements if promoted in record["trials"])
    # The promotion continued on the other node from its parent's checkpoint,
    # which only the chief still held.
    assert again["node"] == next(node.node_id for node in both if node is not killed)
    assert values[promoted]["tuner/trial_id"] in lost["trials"]
    assert "lost: its" in stderr
    assert (output / "model.keras").exists()


def test_the_service_runs_a_search_s_workers_on_the_ray_cluster(tmp_path, cluster, nodes):
    [node] = nodes(1)
    with running_server(tmp_path, env={"EVOKT_RAY_ADDRESS": cluster.address}) as (client, _, _):
        status, search, _ = client.request("POST", "/v1/searches", {
            "dataset": "iris", "max_trials": 2, "epochs": 1, "workers": 1,
            "worker_resources": "CPU=1"})
        assert status == 202, search
        assert search["cluster"] is None  # not yet placed
        running = client.wait_until(search["id"], lambda view: view["cluster"] is not None
                                    and view["cluster"]["workers"][0]["node"] is not None)
        worker = running["cluster"]["workers"][0]
        assert running["cluster"]["engine"] == "ray"
        assert worker["node"] == node.node_id
        assert worker["resources"] == {"CPU": 1.0} and worker["gpus"] == []
        done = client.wait_for(search["id"], {"SUCCEEDED", "FAILED"})
        assert done["state"] == "SUCCEEDED", done
        assert done["trials_done"] == 2
        assert done["cluster"]["workers"][0]["state"] == "left"
        assert sorted(done["cluster"]["workers"][0]["trials"]) == ["0", "1"]
