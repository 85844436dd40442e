"""Helpers for the service tests: apps on temporary data, models, validation."""

from __future__ import annotations

import os

import keras_tuner
import schemathesis

from hypermodels import MLPHyperModel
from hypermodels.data import load_builtin
from service.app import create_app
from service.layout import DataLayout
from service.openapi import DOCUMENT
from tuner_ext.spec import MODEL_FILE

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)


def make_app(data_dir: str, **config):
    return create_app({"DATA_DIR": data_dir, "API_TOKEN": TOKEN, "TESTING": True,
                       "EVENTS_POLL_SECONDS": 0.05, **config})


def conforms(response, path: str, method: str) -> None:
    """Raises unless `response` matches the OpenAPI document's description."""
    SCHEMA[path][method.upper()].validate_response(response)


def register_iris_model(app, name: str = "iris", version: int = 1):
    """Builds a small iris classifier and registers it as `name` version `version`.

    Returns:
        The Keras model, to compare predictions with.
    """
    iris = load_builtin("iris")
    hypermodel = MLPHyperModel(iris.input_shape, num_classes=3, feature_mean=iris.feature_mean,
                               feature_variance=iris.feature_variance)
    hp = keras_tuner.HyperParameters()
    hp.Fixed("num_layers", 1)
    model = hypermodel.build(hp)
    model.fit(iris.x_train, iris.y_train, epochs=1, verbose=0)
    layout: DataLayout = app.extensions["evokt.layout"]
    store = app.extensions["evokt.store"]
    directory = layout.model_dir(name, version)
    os.makedirs(directory)
    model.save(os.path.join(directory, MODEL_FILE))
    metadata = {
        "name": name, "search_id": None, "task": "classification", "input_shape": [4],
        "class_labels": ["setosa", "versicolor", "virginica"],
        "feature_names": ["sl", "sw", "pl", "pw"], "objective": {"name": "val_accuracy",
                                                                  "direction": "max"},
        "score": 0.9, "trial_id": "0", "strategy": "genetic", "hyperparameters": {},
    }
    with store.transaction() as connection:
        store.insert_model_version(connection, "none", name, version, metadata)
    return model
