"""The chief's gRPC port asks every call for the search's token.

KerasTuner's chief serves its oracle to anyone who reaches the port: any
process on the network could hand in scores or read the search space. An
evokt chief refuses every call that lacks the search's token in its gRPC
metadata (`authorization: Bearer TOKEN`), and serves TLS where it is given a
certificate.

The token is made once per search and kept in the project directory
(`chief.token`, readable by its owner only), so a resumed search keeps it.
It reaches workers through the environment (`EVOKT_CHIEF_TOKEN`) or a file
(`evokt worker --token-file`), and Ray workers through Ray's own transport:
never in a process's arguments, never in a log.

evokt's tuners send it themselves (`evokt.chief.client`); a plain
`keras_tuner.Tuner` worker can be given it with `authenticate_worker`, or
the chief can be started with `allow_unauthenticated` (`evokt search
--allow-unauthenticated`), an explicit opt-in to KerasTuner's open port.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from typing import Any

import grpc

from evokt.hypermodels.errors import EvoktError

# In the project directory of a search with workers: the token the chief's
# gRPC port asks of every call, readable by its owner only.
TOKEN_FILE = "chief.token"
TOKEN_ENV = "EVOKT_CHIEF_TOKEN"
# A PEM file of the certificate (or its authority) a worker trusts for TLS.
CA_ENV = "EVOKT_CHIEF_CA"
_METADATA_KEY = "authorization"
_SCHEME = "Bearer "
REFUSAL = "this search's chief asks for its token (EVOKT_CHIEF_TOKEN or --token-file)"


class ChiefSetupError(EvoktError):
    """A token or certificate that a chief or worker cannot use; the message says why."""


@dataclass(frozen=True)
class ChiefSecurity:
    """How a chief's port is protected, and how a worker reaches it.

    Args:
        token: The search's token; None only with `allow_unauthenticated`.
        allow_unauthenticated: Accept calls without the token (a plain
            `keras_tuner.Tuner` worker): KerasTuner's open port.
        certificate: PEM bytes of the chief's TLS certificate (chain), or None
            for plain gRPC.
        private_key: PEM bytes of its key, with `certificate`.
        certificate_file: The certificate's file, which local workers are
            told to trust.
    """

    token: str | None = None
    allow_unauthenticated: bool = False
    certificate: bytes | None = None
    private_key: bytes | None = None
    certificate_file: str | None = None

    @classmethod
    def from_files(cls, allow_unauthenticated: bool = False, certificate_file: str | None = None,
                   key_file: str | None = None) -> ChiefSecurity:
        """The security `evokt search`'s flags ask for (the token is the
        project's, filled in by the chief).

        Raises:
            ChiefSetupError: A certificate without its key (or the reverse), or a
                file that is unreadable or not PEM.
        """
        if (certificate_file is None) != (key_file is None):
            raise ChiefSetupError("--tls-cert and --tls-key go together")
        if certificate_file is None:
            return cls(allow_unauthenticated=allow_unauthenticated)
        return cls(allow_unauthenticated=allow_unauthenticated,
                   certificate=read_pem(certificate_file, "certificate"),
                   private_key=read_pem(key_file, "private key"),
                   certificate_file=os.path.abspath(certificate_file))

    def worker_environment(self) -> dict[str, str]:
        """The variables a local worker process needs to reach the chief."""
        environment = {TOKEN_ENV: self.token} if self.token else {}
        if self.certificate_file:
            environment[CA_ENV] = self.certificate_file
        return environment


def project_token(project_dir: str) -> str:
    """The search's token, made on the first call and kept in the project.

    Args:
        project_dir: The search's project directory.
    """
    path = os.path.join(project_dir, TOKEN_FILE)
    os.makedirs(project_dir, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token_file(path)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        token = secrets.token_urlsafe(32)
        file.write(token + "\n")
        file.flush()
        os.fsync(file.fileno())
    return token


def read_token_file(path: str) -> str:
    """The token in `path`, without surrounding blanks.

    Raises:
        ChiefSetupError: The file is missing, unreadable or empty.
    """
    try:
        with open(path, encoding="utf-8") as file:
            token = file.read().strip()
    except OSError as error:
        raise ChiefSetupError(f"cannot read the chief's token from {path}: "
                              f"{error.strerror}") from None
    if not token:
        raise ChiefSetupError(f"{path} holds no token")
    return token


def read_pem(path: str, what: str) -> bytes:
    """A PEM file's bytes.

    Raises:
        ChiefSetupError: Unreadable, or not PEM.
    """
    try:
        with open(path, "rb") as file:
            content = file.read()
    except OSError as error:
        raise ChiefSetupError(f"cannot read the {what} {path}: {error.strerror}") from None
    if b"-----BEGIN" not in content:
        raise ChiefSetupError(f"{path}: the {what} must be a PEM file")
    return content


class TokenCheck(grpc.ServerInterceptor):
    """Refuses, with UNAUTHENTICATED, every call without the token.

    Args:
        token: The token calls must carry.
    """

    def __init__(self, token: str):
        self._expected = (_SCHEME + token).encode()

    def intercept_service(self, continuation, handler_call_details):
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = str(metadata.get(_METADATA_KEY, "")).encode()
        handler = continuation(handler_call_details)
        if hmac.compare_digest(given, self._expected) or handler is None:
            return handler
        return _refusal(handler)


def _refusal(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of `handler`'s kind that refuses the call."""

    def refuse(request: Any, context: grpc.ServicerContext):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)


def server_interceptors(security: ChiefSecurity) -> list[grpc.ServerInterceptor]:
    """The interceptors a chief's server runs with."""
    if security.allow_unauthenticated or security.token is None:
        return []
    return [TokenCheck(security.token)]


def add_port(server: grpc.Server, address: str, security: ChiefSecurity) -> int:
    """Opens the chief's port: TLS where a certificate is given.

    Returns:
        The port bound.
    """
    if security.certificate is None:
        return server.add_insecure_port(address)
    credentials = grpc.ssl_server_credentials([(security.private_key, security.certificate)])
    return server.add_secure_port(address, credentials)


class _TokenMetadata(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                     grpc.StreamUnaryClientInterceptor):
    """Adds the token to every call of a channel."""

    def __init__(self, token: str):
        self._pair = (_METADATA_KEY, _SCHEME + token)

    def _details(self, details):
        return _CallDetails(details.method, details.timeout,
                            [*(details.metadata or ()), self._pair], details.credentials,
                            getattr(details, "wait_for_ready", None),
                            getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._details(details), requests)


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


# Messages up to this size (a large model's checkpoint goes in chunks below it).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CHANNEL_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]


def chief_channel(address: str, token: str | None = None, ca: bytes | None = None
                  ) -> grpc.Channel:
    """A channel to the chief at `address` whose calls carry the token.

    Args:
        address: The chief's `HOST:PORT`.
        token: The search's token; None reads `EVOKT_CHIEF_TOKEN` (and sends
            none when it is unset, for a chief that allows that).
        ca: PEM bytes of the certificate to trust for TLS; None reads the
            file `EVOKT_CHIEF_CA` names, and plain gRPC when it is unset.
    """
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    if ca is None and os.environ.get(CA_ENV):
        ca = read_pem(os.environ[CA_ENV], "certificate authority")
    if ca is None:
        channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    else:
        channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(ca),
                                      options=CHANNEL_OPTIONS)
    if token:
        channel = grpc.intercept_channel(channel, _TokenMetadata(token))
    return channel


def authenticate_worker(tuner: Any, token: str | None = None, ca: bytes | None = None) -> None:
    """Makes a plain `keras_tuner.Tuner` worker send the chief its token.

    For a worker built from KerasTuner's own tuners (evokt's send it
    themselves): call it after the tuner is made, before `search`.

    Args:
        tuner: A tuner whose oracle is KerasTuner's `OracleClient` (it runs
            with `KERASTUNER_TUNER_ID` and the chief's address set).
        token: The search's token; None reads `EVOKT_CHIEF_TOKEN`.
        ca: PEM bytes to trust for TLS; None reads `EVOKT_CHIEF_CA`.

    Raises:
        ValueError: The tuner is not a worker of a distributed search.
    """
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_client import OracleClient

    if not isinstance(tuner.oracle, OracleClient):
        raise ValueError("This tuner is not a worker: set KERASTUNER_TUNER_ID, "
                         "KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT before making it.")
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    tuner.oracle.stub = protos.get_service_grpc().OracleStub(chief_channel(address, token, ca))
