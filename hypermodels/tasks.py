"""What each task means for a model: loss, metrics and default objective.

Kept free of Keras so that the service can check a request without loading
TensorFlow.
"""

from __future__ import annotations

TASKS = ("classification", "regression")

# task -> (loss, metrics compiled into every hypermodel).
LOSS_AND_METRICS: dict[str, tuple[str, list[str]]] = {
    "classification": ("sparse_categorical_crossentropy", ["accuracy"]),
    "regression": ("mean_squared_error", ["mae"]),
}

# task -> (objective, direction) a search optimises unless told otherwise.
DEFAULT_OBJECTIVES: dict[str, tuple[str, str]] = {
    "classification": ("val_accuracy", "max"),
    "regression": ("val_loss", "min"),
}


def reported_metrics(task: str) -> list[str]:
    """Names of the metrics a search on `task` can optimise."""
    names = ["loss", *LOSS_AND_METRICS[task][1]]
    return [f"val_{name}" for name in names] + names
