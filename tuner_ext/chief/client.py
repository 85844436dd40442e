"""`ChiefClient`: an evokt worker's line to its chief.

KerasTuner's `OracleClient` with three differences:

- its calls carry the search's token, over TLS where the chief has a
  certificate (`evokt.chief.auth`);
- it sends a trial's checkpoint and build config to the chief before it ends
  the trial (`evokt.chief.files`), so the chief holds every trial's
  model without a shared file system;
- it fetches the checkpoint of a trial another worker trained, when this
  worker continues it (a Hyperband promotion).

`EvoktTuner` puts one in place of KerasTuner's client on every worker.
"""

from __future__ import annotations

import os

import keras_tuner
from keras_tuner.engine import trial as trial_module
from keras_tuner.src import protos
from keras_tuner.src.distribute.oracle_client import OracleClient

from evokt.chief.auth import chief_channel
from evokt.chief.files import ChiefFilesClient
from evokt.chief.files import trial_files


def chief_address() -> str:
    """The chief's `HOST:PORT`, from KerasTuner's variables."""
    return f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"


class ChiefClient(OracleClient):
    """Proxies a worker's oracle calls to the chief, with the token and files.

    Args:
        oracle: The worker's local oracle (what KerasTuner's client wraps).
        project_dir: The worker's own project directory.
        token: The search's token; None reads `EVOKT_CHIEF_TOKEN`.
        ca: PEM bytes to trust for TLS; None reads `EVOKT_CHIEF_CA`.
    """

    def __init__(self, oracle: keras_tuner.Oracle, project_dir: str, token: str | None = None,
                 ca: bytes | None = None):
        super().__init__(oracle)
        channel = chief_channel(chief_address(), token, ca)
        self.stub = protos.get_service_grpc().OracleStub(channel)
        self.files = ChiefFilesClient(channel)
        self.project_dir = project_dir

    def end_trial(self, trial: trial_module.Trial) -> None:
        """Sends the trial's files, then ends it at the chief."""
        for name in trial_files(trial.trial_id):
            path = os.path.join(self.project_dir, name)
            if os.path.exists(path):
                self.files.store(path, name)
        super().end_trial(trial)

    def fetch_trial(self, trial_id: str) -> None:
        """Copies a trial's files from the chief unless this worker has them.

        Args:
            trial_id: The trial, usually one another worker trained.
        """
        for name in trial_files(trial_id):
            path = os.path.join(self.project_dir, name)
            if not os.path.exists(path):
                self.files.fetch(name, path)
