"""The trackers a search's spec asks for: TensorBoard logs (`tensorboard`) and
MLflow runs (`mlflow`), each a `SearchObserver` (see `tracking_tensorboard`
and `tracking_mlflow`).

They are observers rather than Keras callbacks so that the search's own
process logs every trial, also the trials workers train elsewhere: the
oracle tells the observers of each epoch it records. Free of TensorFlow
until a tracker is made, so the command line checks for mlflow first.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from evokt.hypermodels.tasks import reported_metrics
from evokt.oracles.defaults import MEASURED_METRICS
from evokt.search.errors import TrackingError
from evokt.search.spec import SearchSpec

if TYPE_CHECKING:

    from evokt.search.observe import SearchObserver

MLFLOW_MISSING = "mlflow is not installed: pip install 'evokt[mlflow]'"


def mlflow_installed() -> bool:
    """Whether the `mlflow` extra is installed (checked without importing it)."""
    return importlib.util.find_spec("mlflow") is not None


def trackers(spec: SearchSpec, task: str, project_dir: str, output_dir: str,
             name: str) -> list[SearchObserver]:
    """The trackers `spec` asks for, none when it asks for none.

    Args:
        spec: The search; its `tensorboard` and `mlflow` fields.
        task: The data's task, whose metrics the HParams tab compares.
        project_dir: The search's project directory.
        output_dir: Where the search exports its model.
        name: What the search is called (MLflow's parent run).

    Raises:
        TrackingError: mlflow is not installed, or its store is unusable.
    """
    found: list[SearchObserver] = []
    if spec.tensorboard is not None:
        from evokt.search.tracking_tensorboard import TensorBoardTracker

        found.append(TensorBoardTracker(spec.tensorboard,
                                        [*reported_metrics(task), *MEASURED_METRICS]))
    if spec.mlflow is not None:
        if not mlflow_installed():
            raise TrackingError(MLFLOW_MISSING)
        from evokt.search.tracking_mlflow import MLflowTracker

        options = {key: value for key, value in spec.to_dict().items()
                   if value is not None and not isinstance(value, dict)}
        found.append(MLflowTracker(spec.mlflow, name, project_dir, output_dir, options))
    return found
