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
