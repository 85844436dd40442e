"""The baseline of `serve_latency.py`: a Flask endpoint that calls `model.predict()`.

This is what a first attempt at serving a Keras model usually looks like;
`serve_latency.py` measures evokt's compiled endpoint against it in the same
run, under the same gunicorn settings. Not part of evokt.
"""

from __future__ import annotations

import os

import keras
import numpy as np
from flask import Flask
from flask import jsonify
from flask import request


def create_app() -> Flask:
    app = Flask(__name__)
    model = keras.saving.load_model(os.environ["NAIVE_MODEL_PATH"], compile=False)

    @app.post("/predict")
    def predict():
        rows = np.asarray(request.get_json()["instances"], dtype="float32")
        return jsonify(predictions=model.predict(rows, verbose=0).tolist())

    return app


app = create_app()
