"""`/v1/searches`: queue searches, watch them, cancel them.

A web worker never runs a search: it checks the request, stores the search
as PENDING and answers 202. The runner process (`evokt.service.runner`) starts it.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from flask import url_for

from evokt.hypermodels.data import BUILTIN_DATASETS
from evokt.oracles.constraints import broken_constraints
from evokt.oracles.pareto import minimized
from evokt.oracles.pareto import non_dominated_fronts
from evokt.search.errors import SpecError
from evokt.search.layout import FRONT_DIR
from evokt.search.spec import SETTINGS
from evokt.search.spec import SearchSpec
from evokt.search.spec import constraints_from
from evokt.search.spec import parse_objective
from evokt.service.cluster import read_cluster
from evokt.service.datasets import dataset_file
from evokt.service.datasets import find_dataset
from evokt.service.deletion import Removal
from evokt.service.disk import require_space
from evokt.service.epochs import trial_views
from evokt.service.errors import ApiError
from evokt.service.layout import DataLayout
from evokt.service.limits import StreamSlots
from evokt.service.limits import client_gone
from evokt.service.store import ACTIVE_STATES
from evokt.service.store import CANCELLED
from evokt.service.store import CANCELLING
from evokt.service.store import FINAL_STATES
from evokt.service.store import PENDING
from evokt.service.store import RUNNING
from evokt.service.store import STATES
from evokt.service.store import JobStore
from evokt.service.store import get_store
from evokt.service.store import new_id
from evokt.service.tracking import refused_field
from evokt.service.validation import check_json
from evokt.service.validation import check_name
from evokt.service.validation import json_body
from evokt.service.validation import query_flag
from evokt.service.versions import read_export
from evokt.service.versions import register_model

blueprint = Blueprint("searches", __name__, url_prefix="/v1/searches")

# What `POST /v1/searches` takes: the dataset, the model's name, and the
# search's declared settings (`evokt.search.spec.SETTINGS`).
SEARCH_FIELDS = {"dataset", "model_name", "objective", "oracle_options",
                 *(setting.name for setting in SETTINGS)}
# Seconds between two keep-alive comments on an idle event stream.
KEEP_ALIVE_SECONDS = 15.0
# Seconds a client is asked to wait before retrying a full stream capacity.
STREAMS_RETRY_AFTER = 5


def _timestamp(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat()


def search_view(record: dict[str, Any], layout: DataLayout) -> dict[str, Any]:
    """The API's view of a search record.

    Args:
        record: The job store's record of the search.
        layout: The data directory, where the search's chief writes where
            its workers run (`cluster`, None for a search without workers).
    """
    spec = record["spec"]
    started, finished = record["started"], record["finished"]
    elapsed = None
    if started is not None:
        elapsed = round((finished or time.time()) - started, 3)
    objectives = record["objectives"] or [
        {"name": name, "direction": direction}
        for name, direction in map(parse_objective, SearchSpec.from_dict(spec).objective_names)]
    return {
        "id": record["id"],
        "state": record["state"],
        "dataset": record["dataset"],
        "model_name": record["model_name"],
        "oracle": spec["oracle"],
        "hypermodel": spec["hypermodel"],
        "max_trials": record["max_trials"],
        "trials_done": record["trials_done"],
        "epochs": spec["epochs"],
        "workers": spec.get("workers", 1),
        "worker_resources": spec.get("worker_resources"),
        "objective": record["objective"] or (objectives[0]["name"] if objectives else None),
        "direction": record["direction"],
        "objectives": objectives,
        "max_params": spec.get("max_params"),
        "max_latency_ms": spec.get("max_latency_ms"),
        "folds": spec.get("folds", 1),
        "max_epochs_budget": spec.get("max_epochs_budget"),
        "best_score": record["best_score"],
        "best_trial": record["best_trial"],
        "best_hyperparameters": record["best_hyperparameters"],
        "model_version": record["model_version"],
        "error": record["error"],
        "created": _timestamp(record["created"]),
        "started": _timestamp(started),
        "finished": _timestamp(finished),
        "elapsed_seconds": elapsed,
        "cluster": read_cluster(layout.search_dir(record["id"])),
    }


def _get_search(search_id: str) -> dict[str, Any]:
    record = get_store().search(check_name(search_id, "search id"))
    if record is None:
        raise ApiError(404, f"no search {search_id!r}")
    return record


def spec_from_request(body: dict[str, Any]) -> tuple[SearchSpec, str, str | None]:
    """The spec, dataset id and model name a request body describes.

    The spec is checked by `SearchSpec`, as `evokt search`'s are, against
    the dataset's shape and task; the service adds its own cap on workers,
    takes `worker_resources` only when its workers run on Ray, and never
    `tensorboard` or `mlflow` (its settings choose them, see
    `evokt.service.tracking`).

    Raises:
        ApiError: 400 naming the first field that is wrong.
    """
    unknown = sorted(set(body) - SEARCH_FIELDS)
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field; fields are "
                            f"{', '.join(sorted(SEARCH_FIELDS))}")
    check_json(body, "body")
    refusal = refused_field(body)
    if refusal is not None:
        raise ApiError(400, refusal)
    dataset_id = check_name(body.get("dataset"), "dataset")
    dataset = find_dataset(get_store(), dataset_id)
    if dataset is None:
        raise ApiError(400, f"dataset: no dataset {dataset_id!r}")
    model_name = check_name(body["model_name"], "model_name") if "model_name" in body else None
    options = {key: body[key] for key in SEARCH_FIELDS - {"dataset", "model_name"} if key in body}
    if dataset["builtin"]:
        source = {"dataset": dataset_id}
    else:
        path = dataset_file(current_app.extensions["evokt.layout"], dataset)
        source = {dataset["format"]: path, "target": dataset["target"], "task": dataset["task"]}
    try:
        spec = SearchSpec(**source, **options)
        spec.check_data(tuple(dataset["input_shape"]), dataset["task"])
    except SpecError as error:
        raise ApiError(400, str(error)) from None
    max_workers = current_app.config["MAX_SEARCH_WORKERS"]
    if spec.workers > max_workers:
        raise ApiError(400, f"workers: this server runs at most {max_workers} per search, "
                            f"got {spec.workers}")
    if spec.worker_resources is not None and not current_app.config["RAY_ADDRESS"].strip():
        raise ApiError(400, "worker_resources: this server runs workers on this machine; "
                            "it takes worker_resources only with EVOKT_RAY_ADDRESS set")
    return spec, dataset_id, model_name


@blueprint.post("")
def create_search():
    body = json_body()
    spec, dataset_id, model_name = spec_from_request(body)
    require_space(current_app.config["DATA_DIR"], current_app.config["MIN_FREE_BYTES"])
    search_id = new_id()
    try:
        record = get_store().add_search(
            search_id, spec.to_dict(), dataset_id, model_name or search_id,
            current_app.config["MAX_PENDING_SEARCHES"],
            uploaded=dataset_id not in BUILTIN_DATASETS,
        )
    except KeyError:
        raise ApiError(400, f"dataset: no dataset {dataset_id!r} (it was deleted)") from None
    if record is None:
        raise ApiError(
            429, "the search queue is full; retry when a search has started",
            {"Retry-After": "30"},
        )
    response = jsonify(search_view(record, current_app.extensions["evokt.layout"]))
    response.status_code = 202
    response.headers["Location"] = url_for("searches.get_search", search_id=search_id)
    return response


@blueprint.get("")
def list_searches():
    state = request.args.get("state")
    if state is not None and state not in STATES:
        raise ApiError(400, f"state: must be one of {', '.join(STATES)}")
    layout = current_app.extensions["evokt.layout"]
    return jsonify(searches=[search_view(record, layout)
                             for record in get_store().searches(state)])


@blueprint.get("/<search_id>")
def get_search(search_id: str):
    return jsonify(search_view(_get_search(search_id), current_app.extensions["evokt.layout"]))


@blueprint.get("/<search_id>/trials")
def get_trials(search_id: str):
    """The search's trials, by id: those that ended and, while it runs, those
    still running; with `?history=true`, each with its metrics epoch by epoch."""
    record = _get_search(search_id)
    return jsonify(trials=trial_views(get_store(), search_id,
                                      running=record["state"] in ACTIVE_STATES,
                                      history=query_flag("history")))


@blueprint.get("/<search_id>/pareto")
def get_pareto(search_id: str):
    """The search's Pareto front: its non-dominated trials (within its
    constraints), ordered by the first objective; for one objective, the
    recommended trial (the search's `best_trial`, ranked by the mean of its
    configuration's evaluations rather than by its luckiest score).
    `exported` says which can be published (once the search has ended,
    every trial of the front is kept)."""
    record = _get_search(search_id)
    layout = current_app.extensions["evokt.layout"]
    objectives = search_view(record, layout)["objectives"]
    constraints = constraints_from(record["spec"])
    candidates, vectors = [], []
    for trial in trial_views(get_store(), search_id):
        metrics = trial["metrics"] or {}
        vector = _objective_vector(metrics, objectives)
        if trial["status"] == "COMPLETED" and vector is not None \
                and not broken_constraints(metrics, constraints):
            candidates.append(trial)
            vectors.append(vector)
    if len(objectives) == 1:
        first = [index for index, trial in enumerate(candidates)
                 if trial["trial_id"] == record["best_trial"]]
    else:
        first = non_dominated_fronts(vectors)[0] if vectors else []
    front = sorted(first, key=lambda index: vectors[index])
    return jsonify(objectives=objectives, constraints=constraints, front=[
        {**candidates[index], "exported": _exported_dir(layout, search_id,
                                                       candidates[index]["trial_id"]) is not None}
        for index in front])


def _objective_vector(metrics: dict[str, Any], objectives: list[dict]) -> tuple | None:
    vector = []
    for objective in objectives:
        value = metrics.get(objective["name"])
        if value is None or objective["direction"] not in ("min", "max"):
            return None
        vector.append(minimized(value, objective["direction"]))
    return tuple(vector)


def _exported_dir(layout, search_id: str, trial_id: str) -> str | None:
    """Where a trial's model was kept when the search ended, or None."""
    export = layout.export_dir(search_id)
    for directory in (os.path.join(export, FRONT_DIR, trial_id), export):
        try:
            if read_export(directory)["trial_id"] == trial_id:
                return directory
        except (OSError, ValueError, KeyError):
            continue
    return None


@blueprint.post("/<search_id>/publish")
def publish_trial(search_id: str):
    """Registers a trial of a finished search's Pareto front as a new version of
    its model (`trial_id`; optionally another `model_name`). Publishing the same
    trial again answers the version it already has."""
    record = _get_search(search_id)
    body = json_body()
    unknown = sorted(set(body) - {"trial_id", "model_name"})
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field; fields are model_name, trial_id")
    trial_id = body.get("trial_id")
    if not isinstance(trial_id, str) or not trial_id.isdigit() or len(trial_id) > 16:
        raise ApiError(400, "trial_id: must be a trial's id, such as \"07\"")
    name = check_name(body.get("model_name", record["model_name"]), "model_name")
    if record["state"] != "SUCCEEDED":
        raise ApiError(409, f"the search has not succeeded ({record['state']}); its models "
                            "are kept when it ends")
    layout = current_app.extensions["evokt.layout"]
    directory = _exported_dir(layout, search_id, trial_id)
    if directory is None:
        raise ApiError(409, f"trial {trial_id} is not on the search's Pareto front; only the "
                            "front's models were kept")
    version = register_model(get_store(), layout, search_id, name, directory,
                             finish_search=False)
    response = jsonify(name=name, version=version, trial_id=trial_id)
    response.status_code = 201
    response.headers["Location"] = f"/v1/models/{name}/versions/{version}"
    return response


@blueprint.delete("/<search_id>")
def delete_search(search_id: str):
    """Deletes an ended search: its record, trials, project directory and
    checkpoints. The model versions it registered stay (they are copies)."""
    _get_search(search_id)
    layout = current_app.extensions["evokt.layout"]
    with Removal([layout.search_folder(search_id)]) as removal:
        state = get_store().delete_search(search_id, removal.move_aside)
    if state is not None:
        raise ApiError(409, f"the search is {state}; cancel it (POST .../cancel) and wait for "
                            "it to end before deleting it")
    return jsonify(id=search_id, deleted=True, freed_bytes=removal.freed_bytes)


@blueprint.post("/<search_id>/cancel")
def cancel_search(search_id: str):
    """Cancels a search: a pending one at once, a running one via the runner."""
    record = _get_search(search_id)
    store = get_store()
    if record["state"] in FINAL_STATES:
        raise ApiError(409, f"the search has already ended ({record['state']})")
    if not store.set_state(search_id, CANCELLED, expected=(PENDING,)):
        store.set_state(search_id, CANCELLING, expected=(RUNNING,))
    response = jsonify(search_view(store.search(search_id), current_app.extensions["evokt.layout"]))
    response.status_code = 202
    return response


def _progress_events(store: JobStore, layout: DataLayout, search_id: str, poll_seconds: float,
                     lifetime: float, sock: socket.socket | None) -> Iterator[str]:
    started = sent_at = time.monotonic()
    sent = None
    # The epochs of the trials running now first (a client that reconnects
    # misses none), then each epoch recorded after them, in order.
    seen = store.last_epoch_seq(search_id)
    epochs = store.epochs(search_id, up_to=seen, running=True)
    while not client_gone(sock):
        view = search_view(store.search(search_id), layout)
        view.pop("elapsed_seconds")
        # Read after the search: the epochs recorded before it ended come before `end`.
        epochs += store.epochs(search_id, after=seen)
        for epoch in epochs:
            seen = max(seen, epoch.pop("seq"))
            yield f"event: epoch\ndata: {json.dumps(epoch)}\n\n"
            sent_at = time.monotonic()
        payload = json.dumps(view)
        if payload != sent:
            yield f"event: progress\ndata: {payload}\n\n"
            sent, sent_at = payload, time.monotonic()
        elif time.monotonic() - sent_at > KEEP_ALIVE_SECONDS:
            yield ": keep-alive\n\n"
            sent_at = time.monotonic()
        if view["state"] in FINAL_STATES:
            yield f"event: end\ndata: {payload}\n\n"
            return
        if time.monotonic() - started > lifetime:
            # The client reconnects (EventSource does so by itself) and gets
            # the current state first; a stream never holds a thread forever.
            yield "retry: 1000\n\n"
            return
        time.sleep(poll_seconds)
        epochs = []


@blueprint.get("/<search_id>/events")
def search_events(search_id: str):
    """A Server-Sent Events stream of progress and of every trial's epochs
    (`epoch`: trial_id, epoch, metrics, status), that ends with the search.

    Streams run on threads of their own, at most `MAX_EVENT_STREAMS` in the
    whole service (503 with `Retry-After` past it), so they never take the
    threads that probes, predictions and other requests need; a stream whose
    client has left ends within `EVENTS_POLL_SECONDS`, freeing its slot.
    """
    _get_search(search_id)
    slots: StreamSlots = current_app.extensions["evokt.event_streams"]
    slot = slots.acquire()
    if slot is None:
        raise ApiError(503, "too many open event streams; retry later",
                       {"Retry-After": str(STREAMS_RETRY_AFTER)})
    try:
        # The stream outlives the request, so it has a connection of its own.
        store = JobStore(current_app.config["DATA_DIR"])
    except BaseException:
        slots.release(slot)
        raise
    events = _progress_events(store, current_app.extensions["evokt.layout"], search_id,
                              current_app.config["EVENTS_POLL_SECONDS"],
                              current_app.config["EVENT_STREAM_SECONDS"],
                              request.environ.get("gunicorn.socket"))
    response = Response(
        events,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

    @response.call_on_close
    def release() -> None:
        store.close()
        slots.release(slot)

    return response
