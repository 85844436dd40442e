"""Where a search's workers run and what each is doing: `workers.json`.

The chief keeps one `WorkerRecord` per worker it started (a lost worker
stays, its replacement is another record) and writes them to the project
directory whenever one changes, atomically, for `evokt summary`-like readers
and the service (`GET /v1/searches/{id}`'s `cluster`, the dashboard's
Workers panel). Free of TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from evokt.files import write_json_atomically
from evokt.search.layout import WORKERS_FILE

STARTING = "starting"
RUNNING = "running"
IDLE = "idle"
LOST = "lost"
LEFT = "left"


@dataclass
class WorkerRecord:
    """One worker of a search.

    Args:
        id: Its tuner id (`worker0`, ...).
        state: `starting` (placed, not yet asking for trials), `running` (a
            trial), `idle` (asking), `lost` (its process or node died) or
            `left` (the search ended for it).
        node: The Ray node's id, or this machine's host name.
        host: The node's address.
        pid: Its process id, once known.
        gpus: The GPUs it sees (`CUDA_VISIBLE_DEVICES`' entries).
        resources: What it holds of the cluster (`CPU`, `GPU`, ...).
        trial: The trial it trains, if any.
        trials: Every trial it has been given, in order (one it lost
            included: that one also shows in its replacement's).
        started: When it was placed (Unix seconds).
        error: Why it was lost.
    """

    id: str
    state: str = STARTING
    node: str | None = None
    host: str | None = None
    pid: int | None = None
    gpus: list[str] = field(default_factory=list)
    resources: dict[str, float] = field(default_factory=dict)
    trial: str | None = None
    trials: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    error: str | None = None


class Placement:
    """The records of a search's workers, written to `workers.json` on change.

    Args:
        project_dir: The chief's project directory.
        engine: "local" or "ray".
        address: The Ray cluster's address, for "ray".
    """

    def __init__(self, project_dir: str, engine: str, address: str | None = None):
        self.path = os.path.join(project_dir, WORKERS_FILE)
        self.engine = engine
        self.address = address
        self.records: dict[str, WorkerRecord] = {}
        self._written: Any = None
        self._followed = 0

    def add(self, record: WorkerRecord) -> WorkerRecord:
        """Records a newly placed worker."""
        self.records[record.id] = record
        return record

    def follow(self, oracle: Any, handed_out: Sequence[tuple[str, str]] = ()) -> None:
        """Sets each live worker's state and trial from the chief's oracle.

        Args:
            oracle: The chief's oracle (its `ongoing_trials` and `tuner_ids`).
            handed_out: (tuner id, trial id) of every trial the chief has
                handed out so far, in order (`ChiefServicer.handed_out`):
                each worker's `trials`, however short they were.
        """
        for tuner_id, trial_id in handed_out[self._followed:]:
            record = self.records.get(tuner_id)
            if record is not None and trial_id not in record.trials:
                record.trials.append(trial_id)
        self._followed = len(handed_out)
        ongoing = {tuner_id: trial.trial_id for tuner_id, trial in oracle.ongoing_trials.items()}
        asking = set(oracle.tuner_ids)
        for record in self.records.values():
            if record.state in (LOST, LEFT):
                continue
            record.trial = ongoing.get(record.id)
            if record.trial is not None:
                record.state = RUNNING
            elif record.id in asking or record.state != STARTING:
                record.state = IDLE

    def end(self, tuner_id: str, state: str, error: str | None = None) -> None:
        """Marks a worker lost or left."""
        record = self.records.get(tuner_id)
        if record is not None:
            record.state, record.trial, record.error = state, None, error

    def write(self) -> None:
        """Writes `workers.json` if anything changed since the last write."""
        content = {"engine": self.engine, "address": self.address,
                   "workers": [dataclasses.asdict(record) for record in self.records.values()]}
        if content == self._written:
            return
        write_json_atomically(self.path, {**content, "updated": time.time()})
        self._written = content
