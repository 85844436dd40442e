"""The chief's token, its files service, GPU shares and lost workers' trials."""

from __future__ import annotations

import dataclasses
import subprocess

import grpc
import keras_tuner
import pytest
from helpers import evokt
from keras_tuner.src import protos
from keras_tuner.src.distribute.oracle_client import OracleClient

from evokt.chief.auth import ChiefSecurity
from evokt.chief.auth import ChiefSetupError
from evokt.chief.auth import chief_channel
from evokt.chief.auth import project_token
from evokt.chief.files import ChiefFiles
from evokt.chief.files import ChiefFilesClient
from evokt.search.distributed import cluster_environment
from evokt.search.distributed import free_port
from evokt.search.distributed import gpu_environment
from evokt.search.distributed import release_tuner
from evokt.search.distributed import serve_oracle
from evokt.search.errors import SpecError
from evokt.search.layout import SPEC_FILE
from evokt.search.resources import parse_resources
from evokt.search.spec import SearchSpec


def _oracle(tmp_path, max_trials=3) -> keras_tuner.Oracle:
    hp = keras_tuner.HyperParameters()
    hp.Int("units", 8, 64)
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("score", "max"), max_trials=max_trials,
        hyperparameters=hp, seed=0)
    oracle._set_project_dir(str(tmp_path), "project")
    oracle.verbose = 0
    return oracle


@pytest.fixture
def chief(tmp_path, monkeypatch):
    """A served oracle that asks for a token, with its files service."""
    oracle = _oracle(tmp_path)
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "search.json").write_text("{}")
    token = project_token(str(project))
    port = free_port()
    server, _ = serve_oracle(oracle, f"127.0.0.1:{port}", ChiefSecurity(token),
                             ChiefFiles(str(project), {SPEC_FILE: str(project / SPEC_FILE)}))
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "worker0")
    monkeypatch.delenv("EVOKT_CHIEF_TOKEN", raising=False)
    yield oracle, f"127.0.0.1:{port}", token, project
    server.stop(grace=0)


def _space_call(channel: grpc.Channel):
    stub = protos.get_service_grpc().OracleStub(channel)
    return stub.GetSpace(protos.get_service().GetSpaceRequest(), timeout=10)


def test_the_token_is_made_once_and_readable_by_its_owner_only(tmp_path):
    first = project_token(str(tmp_path))
    assert project_token(str(tmp_path)) == first and len(first) >= 40
    assert (tmp_path / "chief.token").stat().st_mode & 0o777 == 0o600


def test_calls_without_the_token_or_with_a_wrong_one_are_refused(chief):
    oracle, address, token, _ = chief
    with pytest.raises(grpc.RpcError) as refused:
        OracleClient(oracle).get_space()  # KerasTuner's own client sends no token
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    for wrong in ("", token[:-1], token + "x"):
        with pytest.raises(grpc.RpcError) as refused:
            _space_call(chief_channel(address, wrong or "nothing"))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _space_call(chief_channel(address, token)).hyperparameters.space


def test_the_files_service_asks_for_the_token_and_serves_only_trial_files(chief, tmp_path):
    _, address, token, project = chief
    with pytest.raises(grpc.RpcError) as refused:
        ChiefFilesClient(chief_channel(address, "wrong")).fetch("search.json",
                                                                str(tmp_path / "s.json"))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    files = ChiefFilesClient(chief_channel(address, token))
    assert files.fetch("search.json", str(tmp_path / "got" / "search.json"))
    assert (tmp_path / "got" / "search.json").read_text() == "{}"
    checkpoint = tmp_path / "weights.h5"
    checkpoint.write_bytes(b"w" * (3 * 1024 * 1024 + 5))  # several chunks
    files.store(str(checkpoint), "trial_07/checkpoint.weights.h5")
    assert (project / "trial_07" / "checkpoint.weights.h5").read_bytes() == checkpoint.read_bytes()
    assert not files.fetch("trial_08/checkpoint.weights.h5", str(tmp_path / "none.h5"))
    for name in ("../secret", "chief.token", "trial_1/../../x", "/etc/passwd"):
        with pytest.raises(grpc.RpcError) as denied:
            files.fetch(name, str(tmp_path / "x"))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as denied:
        files.store(str(checkpoint), "search.json")
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_an_explicit_opt_in_lets_plain_keras_tuner_workers_in(tmp_path, monkeypatch):
    oracle = _oracle(tmp_path)
    port = free_port()
    server, _ = serve_oracle(oracle, f"127.0.0.1:{port}",
                             ChiefSecurity("token", allow_unauthenticated=True))
    try:
        monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
        monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
        monkeypatch.setenv("KERASTUNER_TUNER_ID", "plain")
        assert "units" in OracleClient(oracle).get_space().values
    finally:
        server.stop(grace=0)


def test_each_local_worker_gets_its_own_gpu_and_memory_growth_when_they_share():
    gpus = ["0", "1"]
    assert [gpu_environment(slot, 2, gpus) for slot in range(2)] == [
        {"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}]
    shared = [gpu_environment(slot, 3, gpus) for slot in range(3)]
    assert [env["CUDA_VISIBLE_DEVICES"] for env in shared] == ["0", "1", "0"]
    assert all(env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for env in shared)
    assert gpu_environment(0, 4, []) == {}


def test_worker_resources_are_checked():
    assert parse_resources("CPU=4,GPU=1") == {"CPU": 4.0, "GPU": 1.0}
    assert parse_resources("CPU=0.5, accelerator_type:H100=1") == {
        "CPU": 0.5, "accelerator_type:H100": 1.0}
    for bad in ("CPU", "CPU=0", "CPU=-1", "GPU=1.5", "CPU=1,CPU=2", "=1", "CPU=nan"):
        with pytest.raises(SpecError, match="worker_resources"):
            parse_resources(bad)
    with pytest.raises(SpecError, match="worker_resources: GPU must be a positive number"):
        SearchSpec(dataset="iris", worker_resources="GPU=two")


def test_a_dead_workers_trial_goes_to_the_next_worker_with_keras_tuners_oracles(
        tmp_path, monkeypatch):
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    oracle = _oracle(tmp_path, max_trials=1)
    lost = oracle.create_trial("worker0")
    assert lost.status == "RUNNING"
    release_tuner(oracle, "worker0")
    assert "worker0" not in oracle.ongoing_trials and "worker0" not in oracle.tuner_ids
    again = oracle.create_trial("worker1")
    assert again.trial_id == lost.trial_id and again.status == "RUNNING"
    assert cluster_environment("w", "h", 1)["KERASTUNER_TUNER_ID"] == "w"


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 and its key (Debian's openssl)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return str(cert), str(key)


def test_over_tls_the_chief_asks_for_the_token_and_refuses_plain_grpc(tmp_path, certificate):
    cert, key = certificate
    security = dataclasses.replace(ChiefSecurity.from_files(False, cert, key), token="t0ken")
    assert security.worker_environment() == {"EVOKT_CHIEF_TOKEN": "t0ken",
                                             "EVOKT_CHIEF_CA": cert}
    port = free_port()
    server, _ = serve_oracle(_oracle(tmp_path), f"127.0.0.1:{port}", security)
    try:
        with open(cert, "rb") as file:
            ca = file.read()
        address = f"127.0.0.1:{port}"
        assert _space_call(chief_channel(address, "t0ken", ca)).hyperparameters.space
        with pytest.raises(grpc.RpcError) as refused:
            _space_call(chief_channel(address, "wrong", ca))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as plain:
            _space_call(chief_channel(address, "t0ken"))  # no TLS: no answer at all
        assert plain.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(grace=0)
    with pytest.raises(ChiefSetupError, match="--tls-cert and --tls-key go together"):
        ChiefSecurity.from_files(False, cert, None)
    not_pem = tmp_path / "cert.txt"
    not_pem.write_text("a certificate\n")
    with pytest.raises(ChiefSetupError, match="must be a PEM file"):
        ChiefSecurity.from_files(False, str(not_pem), key)


def test_a_worker_with_a_wrong_token_file_is_refused_in_one_line(chief, tmp_path):
    _, address, _, _ = chief
    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-the-token\n")
    result = evokt("worker", "--chief", address, "--token-file", str(wrong),
                   "--project-dir", str(tmp_path / "w"), timeout=120)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"the chief at {address} refused this worker" in result.stderr
    assert "not-the-token" not in result.stderr
    missing = evokt("worker", "--chief", address, "--token-file", str(tmp_path / "none"),
                    timeout=120)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "cannot read the chief's token from" in missing.stderr


def test_every_method_of_the_chief_refuses_a_call_without_the_token(chief):
    _, address, _, _ = chief
    channel = grpc.insecure_channel(address)
    service = protos.get_service()
    methods = protos.get_service().DESCRIPTOR.services_by_name["Oracle"].methods
    for method in methods:
        request = getattr(service, method.input_type.name)()
        call = channel.unary_unary(f"/{method.full_name.rpartition('.')[0]}/{method.name}",
                                   request_serializer=type(request).SerializeToString,
                                   response_deserializer=lambda data: data)
        with pytest.raises(grpc.RpcError) as refused:
            call(request, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, method.name
    for name in ("Fetch", "Store"):
        with pytest.raises(grpc.RpcError) as refused:
            if name == "Fetch":
                list(channel.unary_stream("/evokt.ChiefFiles/Fetch")(b"search.json", timeout=10))
            else:
                channel.stream_unary("/evokt.ChiefFiles/Store")(iter([b"trial_1/x"]), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
    assert {method.name for method in methods} == {
        "GetSpace", "UpdateSpace", "CreateTrial", "UpdateTrial", "EndTrial", "GetBestTrials",
        "GetTrial"}
