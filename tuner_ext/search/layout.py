"""The files a search writes: its spec in the project directory, its model in the output."""

from __future__ import annotations

# In the project directory, beside KerasTuner's state: the search's `SearchSpec`.
SPEC_FILE = "search.json"
# In the output directory: the recommended model and its description.
MODEL_FILE = "model.keras"
BEST_FILE = "best.json"
# In the output directory of a search of several objectives: every trial of the
# Pareto front, in a folder of its own named by its trial id.
FRONT_DIR = "front"
# In the project directory of a search with workers: each worker's placement and
# state, written by the chief (see `evokt.search.placement`).
WORKERS_FILE = "workers.json"
# The name the chief serves the search's data file under, to workers whose
# machine lacks it (see `evokt.chief.files`).
DATA_NAME = "data"
# In the project directory of a search logged to MLflow: the ids of its parent
# run and of each trial's run, so a resumed search adds to them.
MLFLOW_RUNS_FILE = "mlflow.json"
