"""The job store: one SQLite file (WAL mode) in the data directory.

It holds uploaded datasets, searches with their state and options, the
trials' summaries and their metrics epoch by epoch, and the registered model
versions. Every change is one
transaction, so a process killed at any moment leaves either the old record
or the new one. A `JobStore` is one connection: the web service opens one per
request (`get_store`, closed when the request ends, as Flask's tutorial does
with its database), the runner and each search process one of their own; WAL
lets the web workers read while the runner and the search processes write.
The file is readable by its owner only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask import current_app
from flask import g

STORE_FILE = "evokt.sqlite3"

# The search states, and which of them are final.
PENDING = "PENDING"
RUNNING = "RUNNING"
CANCELLING = "CANCELLING"
CANCELLED = "CANCELLED"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
STATES = (PENDING, RUNNING, CANCELLING, CANCELLED, SUCCEEDED, FAILED)
FINAL_STATES = (CANCELLED, SUCCEEDED, FAILED)
# A search in one of these states may still read its dataset and write its directory.
ACTIVE_STATES = (PENDING, RUNNING, CANCELLING)
# KerasTuner's statuses of a trial still training, and of one stopped early.
RUNNING_TRIAL = "RUNNING"
STOPPED_TRIAL = "STOPPED"

# Each trial's metrics, epoch by epoch, with its status then (RUNNING, or STOPPED at
# the epoch it was stopped). `seq` only grows, never reused (AUTOINCREMENT), so an
# event stream that has sent every row up to one `seq` finds the new ones after it,
# through the index, without reading the search's other epochs.
_EPOCHS_SCHEMA = ["""
CREATE TABLE IF NOT EXISTS trial_epochs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    search_id TEXT NOT NULL REFERENCES searches (id),
    trial_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    status TEXT NOT NULL,
    UNIQUE (search_id, trial_id, epoch)
)""", "CREATE INDEX IF NOT EXISTS trial_epochs_in_order ON trial_epochs (search_id, seq)"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    filename TEXT NOT NULL,
    format TEXT NOT NULL,
    target TEXT,
    task TEXT NOT NULL,
    rows INTEGER NOT NULL,
    input_shape TEXT NOT NULL,
    classes TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS searches (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    dataset TEXT NOT NULL,
    model_name TEXT NOT NULL,
    max_trials INTEGER NOT NULL,
    trials_done INTEGER NOT NULL DEFAULT 0,
    objective TEXT,
    direction TEXT,
    best_score REAL,
    best_trial TEXT,
    best_hyperparameters TEXT,
    error TEXT,
    model_version INTEGER,
    pid INTEGER,
    restarts INTEGER NOT NULL DEFAULT 0,
    objectives TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS searches_by_state ON searches (state, created);
CREATE TABLE IF NOT EXISTS trials (
    search_id TEXT NOT NULL REFERENCES searches (id),
    trial_id TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL,
    hyperparameters TEXT NOT NULL,
    message TEXT,
    ended REAL,
    metrics TEXT,
    reevaluates TEXT,
    PRIMARY KEY (search_id, trial_id)
);
CREATE TABLE IF NOT EXISTS model_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    search_id TEXT,
    trial_id TEXT,
    metadata TEXT NOT NULL,
    created REAL NOT NULL,
    deleted REAL,
    PRIMARY KEY (name, version)
);
""" + ";".join(_EPOCHS_SCHEMA)

# `_MIGRATIONS[v]` brings a store of schema version v to v + 1: version 2 counts a
# search's restarts, version 3 keeps its objectives, its trials' metrics and the
# trial each model version was made from, version 4 the trial a re-evaluation
# re-evaluates, version 5 when a model version was deleted (its row stays, so
# its number is never given to another version: a web worker that still holds
# the deleted version loaded can never serve it under a new version's name),
# version 6 the trials' metrics epoch by epoch.
SCHEMA_VERSION = 6
_MIGRATIONS = {
    1: ["ALTER TABLE searches ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0"],
    2: ["ALTER TABLE searches ADD COLUMN objectives TEXT",
        "ALTER TABLE trials ADD COLUMN metrics TEXT",
        "ALTER TABLE model_versions ADD COLUMN trial_id TEXT"],
    3: ["ALTER TABLE trials ADD COLUMN reevaluates TEXT"],
    4: ["ALTER TABLE model_versions ADD COLUMN deleted REAL"],
    5: _EPOCHS_SCHEMA,
}

_JSON_COLUMNS = {"spec", "input_shape", "classes", "best_hyperparameters", "hyperparameters",
                 "metadata", "objectives", "metrics"}


def new_id() -> str:
    """A fresh identifier: 32 hexadecimal characters."""
    return uuid.uuid4().hex


def _row_to_dict(row: sqlite3.Row) -> dict[str, Any]:
    record = dict(row)
    for key in _JSON_COLUMNS & record.keys():
        if record[key] is not None:
            record[key] = json.loads(record[key])
    return record


class JobStore:
    """One connection to the job store of a data directory.

    The store's file and schema are created by the first connection, and an
    older schema is brought up to date.

    Args:
        data_dir: The service's data directory; the SQLite file lives there.
        timeout: Seconds to wait for a lock held by another process.
    """

    def __init__(self, data_dir: str, timeout: float = 30.0):
        self.data_dir = data_dir
        self.path = os.path.join(data_dir, STORE_FILE)
        if not os.path.exists(self.path):
            os.makedirs(data_dir, mode=0o700, exist_ok=True)
            # SQLite gives its -wal and -shm files the permissions of this one.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.connection = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA foreign_keys=ON")
        if self.connection.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            self._create_or_migrate()

    def _create_or_migrate(self) -> None:
        with self.transaction() as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            tables = connection.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'searches'").fetchone()[0]
            if not tables:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    connection.execute(statement)
            else:
                for step in range(max(version, 1), SCHEMA_VERSION):
                    for statement in _MIGRATIONS[step]:
                        connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        # Persistent in the file; it cannot change inside a transaction.
        self.connection.execute("PRAGMA journal_mode=WAL")

    def close(self) -> None:
        """Closes the connection."""
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is stored, or none of it."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def _query(self, sql: str, parameters: tuple = ()) -> list[dict[str, Any]]:
        rows = self.connection.execute(sql, parameters).fetchall()
        return [_row_to_dict(row) for row in rows]

    def _one(self, sql: str, parameters: tuple = ()) -> dict[str, Any] | None:
        rows = self._query(sql, parameters)
        return rows[0] if rows else None

    # Datasets -------------------------------------------------------------

    def add_dataset(self, record: dict[str, Any]) -> None:
        """Registers an uploaded dataset whose file is already in place."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO datasets (id, filename, format, target, task, rows, input_shape,"
                " classes, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["id"], record["filename"], record["format"], record.get("target"),
                    record["task"], record["rows"], json.dumps(record["input_shape"]),
                    json.dumps(record.get("classes")), time.time(),
                ),
            )

    def dataset(self, dataset_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM datasets WHERE id = ?", (dataset_id,))

    def datasets(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM datasets ORDER BY created")

    # Searches -------------------------------------------------------------

    def add_search(
        self, search_id: str, spec: dict, dataset: str, model_name: str, max_pending: int,
        uploaded: bool = False,
    ) -> dict[str, Any] | None:
        """Queues a search as PENDING.

        Args:
            search_id: The new search's id.
            spec: Its checked `SearchSpec`, as a dict.
            dataset: The dataset's id.
            model_name: The model its best trial registers a version of.
            max_pending: The most searches that may wait.
            uploaded: The dataset is an upload, which must still be there
                (a deletion may have committed since it was looked up).

        Returns:
            The new record, or None when `max_pending` searches already wait.

        Raises:
            KeyError: The uploaded dataset is gone.
        """
        now = time.time()
        with self.transaction() as connection:
            if uploaded and connection.execute(
                    "SELECT 1 FROM datasets WHERE id = ?", (dataset,)).fetchone() is None:
                raise KeyError(dataset)
            waiting = connection.execute(
                "SELECT COUNT(*) FROM searches WHERE state = ?", (PENDING,)
            ).fetchone()[0]
            if waiting >= max_pending:
                return None
            connection.execute(
                "INSERT INTO searches (id, state, spec, dataset, model_name, max_trials,"
                " created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (search_id, PENDING, json.dumps(spec), dataset, model_name,
                 spec["max_trials"], now, now),
            )
        return self.search(search_id)

    def search(self, search_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM searches WHERE id = ?", (search_id,))

    def searches(self, state: str | None = None) -> list[dict[str, Any]]:
        if state is None:
            return self._query("SELECT * FROM searches ORDER BY created")
        return self._query("SELECT * FROM searches WHERE state = ? ORDER BY created", (state,))

    def set_state(
        self,
        search_id: str,
        state: str,
        expected: tuple[str, ...] | None = None,
        **fields: Any,
    ) -> bool:
        """Moves a search to `state`, if it is in one of the `expected` states.

        Args:
            search_id: The search.
            state: The new state.
            expected: States the search must be in for the move to happen;
                None for any state.
            **fields: Other columns to set in the same transaction (`error`,
                `pid`, `started`, `finished`, ...).

        Returns:
            Whether the search moved.
        """
        assignments = {"state": state, "updated": time.time(), **fields}
        if state in FINAL_STATES:
            assignments.setdefault("finished", time.time())
        columns = ", ".join(f"{name} = ?" for name in assignments)
        sql = f"UPDATE searches SET {columns} WHERE id = ?"
        parameters: tuple = (*assignments.values(), search_id)
        if expected is not None:
            sql += f" AND state IN ({', '.join('?' for _ in expected)})"
            parameters += tuple(expected)
        with self.transaction() as connection:
            return connection.execute(sql, parameters).rowcount == 1

    def record_trial(self, search_id: str, trial: dict[str, Any], progress: dict[str, Any],
                     epochs: Mapping[int, Mapping[str, float | None]] | None = None) -> None:
        """Stores one ended trial's summary and the search's progress together.

        Args:
            search_id: The search.
            trial: The trial's summary: `trial_id`, `status`, `hyperparameters`,
                and optionally `score`, `message`, `ended`, `metrics`, `reevaluates`.
            progress: The search's `trials_done`, `objective`, `direction`, and
                optionally `objectives`, `best_score`, `best_trial`, `best_hyperparameters`.
            epochs: The trial's whole history, epoch -> metrics, as its oracle
                recorded it: epochs already stored get these values (and keep
                their place in the order of recording), missing ones are added,
                others removed; None leaves the stored epochs as they are.
        """
        with self.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO trials (search_id, trial_id, status, score,"
                " hyperparameters, message, ended, metrics, reevaluates)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (search_id, trial["trial_id"], trial["status"], trial.get("score"),
                 json.dumps(trial["hyperparameters"]), trial.get("message"), trial.get("ended"),
                 json.dumps(trial.get("metrics") or {}), trial.get("reevaluates")),
            )
            if epochs is not None:
                self._replace_epochs(search_id, trial, epochs)
            connection.execute(
                "UPDATE searches SET trials_done = ?, objective = ?, direction = ?,"
                " objectives = ?, best_score = ?, best_trial = ?, best_hyperparameters = ?,"
                " updated = ? WHERE id = ?",
                (progress["trials_done"], progress["objective"], progress["direction"],
                 json.dumps(progress.get("objectives")), progress.get("best_score"),
                 progress.get("best_trial"), json.dumps(progress.get("best_hyperparameters")),
                 time.time(), search_id),
            )

    def _replace_epochs(self, search_id: str, trial: dict[str, Any],
                        epochs: Mapping[int, Mapping[str, float | None]]) -> None:
        self.connection.execute(
            f"DELETE FROM trial_epochs WHERE search_id = ? AND trial_id = ?"
            f" AND epoch NOT IN ({', '.join('?' for _ in epochs)})",
            (search_id, trial["trial_id"], *epochs))
        # A trial stopped early was STOPPED at its last epoch, RUNNING at the others.
        stopped_at = max(epochs) if epochs and trial["status"] == STOPPED_TRIAL else None
        self.connection.executemany(
            "INSERT INTO trial_epochs (search_id, trial_id, epoch, metrics, status)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (search_id, trial_id, epoch)"
            " DO UPDATE SET metrics = excluded.metrics WHERE metrics != excluded.metrics",
            [(search_id, trial["trial_id"], epoch, json.dumps(metrics),
              STOPPED_TRIAL if epoch == stopped_at else RUNNING_TRIAL)
             for epoch, metrics in sorted(epochs.items())])

    def trials(self, search_id: str, running: bool = False) -> list[dict[str, Any]]:
        """The search's ended trials, by id; with `running`, its running ones too."""
        return self._query(
            "SELECT trial_id, reevaluates, status, score, hyperparameters, message, ended,"
            " metrics FROM trials WHERE search_id = ? AND (? OR status != ?) ORDER BY trial_id",
            (search_id, running, RUNNING_TRIAL),
        )

    # A trial's epochs -------------------------------------------------------
    #
    # A trial is listed as RUNNING from its start (or its first epoch) until it
    # ends; its epochs are kept as they are recorded, for the trials' histories
    # and the event streams, which send the rows recorded since the last they sent.

    def start_trial(self, search_id: str, trial_id: str, hyperparameters: dict[str, Any]) -> None:
        """Lists a trial as RUNNING, without epochs (a trial run again starts afresh)."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO trials (search_id, trial_id, status, hyperparameters)"
                " VALUES (?, ?, ?, ?)",
                (search_id, trial_id, RUNNING_TRIAL, json.dumps(hyperparameters)))
            connection.execute("DELETE FROM trial_epochs WHERE search_id = ? AND trial_id = ?",
                               (search_id, trial_id))

    def record_epoch(self, search_id: str, trial_id: str, hyperparameters: dict[str, Any],
                     epoch: int, metrics: Mapping[str, float | None], status: str) -> None:
        """Stores a trial's metrics of one epoch, listing the trial as RUNNING if it
        was not listed yet.

        Args:
            search_id: The search.
            trial_id: The trial.
            hyperparameters: Its values.
            epoch: The epoch, from 0.
            metrics: Metric name -> value (None for one that is not a number).
            status: The trial's status then: RUNNING, or STOPPED when it stops there.
        """
        with self.transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO trials (search_id, trial_id, status, hyperparameters)"
                " VALUES (?, ?, ?, ?)",
                (search_id, trial_id, RUNNING_TRIAL, json.dumps(hyperparameters)))
            # An epoch at or before the last recorded: the trial is trained again, and
            # its history starts anew, as in its oracle (`evokt.oracles.early_stopping`).
            connection.execute(
                "DELETE FROM trial_epochs WHERE search_id = ? AND trial_id = ? AND ? <= (SELECT"
                " MAX(epoch) FROM trial_epochs WHERE search_id = ? AND trial_id = ?)",
                (search_id, trial_id, epoch, search_id, trial_id))
            connection.execute(
                "INSERT INTO trial_epochs (search_id, trial_id, epoch, metrics, status)"
                " VALUES (?, ?, ?, ?, ?)",
                (search_id, trial_id, epoch, json.dumps(metrics), status))

    def forget_running_trials(self, search_id: str) -> None:
        """Forgets the trials a search's previous process left running, and their
        epochs: the resumed search runs them again."""
        with self.transaction() as connection:
            connection.execute(
                "DELETE FROM trial_epochs WHERE search_id = ? AND trial_id NOT IN"
                " (SELECT trial_id FROM trials WHERE search_id = ? AND status != ?)",
                (search_id, search_id, RUNNING_TRIAL))
            connection.execute("DELETE FROM trials WHERE search_id = ? AND status = ?",
                               (search_id, RUNNING_TRIAL))

    def epochs_done(self, search_id: str) -> dict[str, int]:
        """Trial id -> the epochs its model has trained (its last recorded epoch + 1)."""
        return {row["trial_id"]: row["done"] for row in self._query(
            "SELECT trial_id, MAX(epoch) + 1 AS done FROM trial_epochs WHERE search_id = ?"
            " GROUP BY trial_id", (search_id,))}

    def histories(self, search_id: str) -> dict[str, dict[int, dict[str, float | None]]]:
        """Trial id -> epoch -> the metrics recorded, for every trial of the search."""
        histories: dict[str, dict[int, dict[str, float | None]]] = {}
        for trial_id, epoch, metrics in self.connection.execute(
                "SELECT trial_id, epoch, metrics FROM trial_epochs WHERE search_id = ?",
                (search_id,)):
            histories.setdefault(trial_id, {})[epoch] = json.loads(metrics)
        return histories

    def last_epoch_seq(self, search_id: str) -> int:
        """The `seq` of the search's latest recorded epoch; 0 before any."""
        row = self.connection.execute(
            "SELECT MAX(seq) FROM trial_epochs WHERE search_id = ?", (search_id,)).fetchone()
        return row[0] or 0

    def epochs(self, search_id: str, after: int = 0, up_to: int | None = None,
               running: bool = False) -> list[dict[str, Any]]:
        """The search's recorded epochs, in the order they were recorded.

        Args:
            search_id: The search.
            after: Only those recorded after the epoch of this `seq`.
            up_to: Only those up to the epoch of this `seq`, if given.
            running: Only those of the trials listed as RUNNING.

        Returns:
            Rows of `seq`, `trial_id`, `epoch`, `metrics` and `status`.
        """
        sql = ("SELECT e.seq, e.trial_id, e.epoch, e.metrics, e.status FROM trial_epochs e"
               " WHERE e.search_id = ? AND e.seq > ?")
        parameters: tuple = (search_id, after)
        if up_to is not None:
            sql += " AND e.seq <= ?"
            parameters += (up_to,)
        if running:
            sql += (" AND e.trial_id IN (SELECT trial_id FROM trials WHERE search_id = ?"
                    " AND status = ?)")
            parameters += (search_id, RUNNING_TRIAL)
        return self._query(sql + " ORDER BY e.seq", parameters)

    # Models ---------------------------------------------------------------

    def register_model_version(
        self,
        search_id: str,
        trial_id: str,
        name: str,
        metadata: dict[str, Any],
        place_files: Callable[[int], None],
        finish_search: bool = True,
    ) -> int:
        """Registers a search's trial's model as the next version of `name`, once.

        The version is chosen, `place_files(version)` puts the model's files
        in place, and the version (and the search's SUCCEEDED state) are
        written, all in one transaction: a version is never listed without
        its files, two searches never take the same number, and a trial of a
        search is registered once however often it is asked for (a second
        run gets the version the first registered).

        Args:
            search_id: The search.
            trial_id: Its trial whose model this is.
            name: The model's name.
            metadata: The version's description.
            place_files: Puts the files in the version's folder.
            finish_search: Also mark the search SUCCEEDED (its recommended
                model); False for a trial published later.

        Returns:
            The version number.
        """
        with self.transaction() as connection:
            registered = connection.execute(
                "SELECT version FROM model_versions WHERE search_id = ? AND trial_id = ?"
                " AND deleted IS NULL",
                (search_id, trial_id),
            ).fetchone()
            if registered is not None:
                version = registered[0]
            else:
                latest = connection.execute(
                    "SELECT MAX(version) FROM model_versions WHERE name = ?", (name,)
                ).fetchone()[0]
                version = (latest or 0) + 1
                place_files(version)
                self._insert_version(name, version, search_id, trial_id, metadata, time.time())
            if finish_search:
                now = time.time()
                connection.execute(
                    "UPDATE searches SET state = ?, model_version = ?, finished = ?, updated = ?"
                    " WHERE id = ?",
                    (SUCCEEDED, version, now, now, search_id),
                )
        return version

    def _insert_version(self, name: str, version: int, search_id: str | None,
                        trial_id: str | None, metadata: dict[str, Any], created: float) -> None:
        self.connection.execute(
            "INSERT INTO model_versions (name, version, search_id, trial_id, metadata, created)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, version, search_id, trial_id, json.dumps(metadata), created))

    def restore_model_version(self, name: str, version: int, search_id: str | None,
                              trial_id: str | None, metadata: dict[str, Any],
                              created: float) -> None:
        """Registers a version under the number it had, its files in place: for a
        rebuilt store (`evokt.service.recovery`).

        Args:
            name: The model.
            version: Its number.
            search_id: The search it came from, if known.
            trial_id: The trial whose model it is.
            metadata: Its description.
            created: When it was made.
        """
        with self.transaction():
            self._insert_version(name, version, search_id, trial_id, metadata, created)

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        return self._query(
            "SELECT * FROM model_versions WHERE name = ? AND deleted IS NULL ORDER BY version",
            (name,),
        )

    def model_version(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        """One version of a model; the latest when `version` is None."""
        if version is None:
            return self._one(
                "SELECT * FROM model_versions WHERE name = ? AND deleted IS NULL"
                " ORDER BY version DESC LIMIT 1",
                (name,),
            )
        return self._one(
            "SELECT * FROM model_versions WHERE name = ? AND version = ? AND deleted IS NULL",
            (name, version),
        )

    def latest_versions(self) -> list[dict[str, Any]]:
        """Each model's latest version, in one query, ordered by name."""
        return self._query(
            "SELECT m.* FROM model_versions m JOIN (SELECT name, MAX(version) AS version"
            " FROM model_versions WHERE deleted IS NULL GROUP BY name) latest"
            " ON m.name = latest.name AND m.version = latest.version ORDER BY m.name")

    def live_versions(self) -> set[tuple[str, int]]:
        """(name, version) of every version not deleted."""
        return {(row["name"], row["version"]) for row in self._query(
            "SELECT name, version FROM model_versions WHERE deleted IS NULL")}

    def model_names(self) -> list[str]:
        return [row["name"] for row in self._query(
            "SELECT DISTINCT name FROM model_versions WHERE deleted IS NULL ORDER BY name"
        )]

    # Deletion -------------------------------------------------------------
    #
    # Each deletion is one transaction that also moves the files out of their
    # place (`move_files`, a rename): the record and its files go together or
    # not at all. What was moved is removed after the commit; a process killed
    # before that leaves a `.tmp-*` folder, which `evokt serve` removes at start.

    def searches_using(self, dataset_id: str) -> list[str]:
        """The searches that may still read `dataset_id` (not yet ended)."""
        return [row["id"] for row in self._query(
            f"SELECT id FROM searches WHERE dataset = ? AND state IN"
            f" ({', '.join('?' for _ in ACTIVE_STATES)}) ORDER BY created",
            (dataset_id, *ACTIVE_STATES),
        )]

    def delete_dataset(self, dataset_id: str, move_files: Callable[[], None]) -> list[str]:
        """Deletes an uploaded dataset unless a search still needs it.

        Args:
            dataset_id: The dataset.
            move_files: Moves its folder out of place, inside the transaction.

        Returns:
            The searches that still need it (nothing was deleted), or [].
        """
        with self.transaction() as connection:
            users = self.searches_using(dataset_id)
            if not users:
                connection.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
                move_files()
        return users

    def delete_search(self, search_id: str, move_files: Callable[[], None]) -> str | None:
        """Deletes an ended search and its trials; its model versions stay.

        Args:
            search_id: The search.
            move_files: Moves its folder out of place, inside the transaction.

        Returns:
            The search's state if it has not ended (nothing was deleted), else None.
        """
        with self.transaction() as connection:
            row = connection.execute(
                "SELECT state FROM searches WHERE id = ?", (search_id,)).fetchone()
            if row is not None and row[0] not in FINAL_STATES:
                return row[0]
            connection.execute("DELETE FROM trial_epochs WHERE search_id = ?", (search_id,))
            connection.execute("DELETE FROM trials WHERE search_id = ?", (search_id,))
            connection.execute("DELETE FROM searches WHERE id = ?", (search_id,))
            move_files()
        return None

    def delete_model_versions(
        self, name: str, versions: list[int], move_files: Callable[[], None]
    ) -> None:
        """Marks versions of a model deleted; their numbers are never reused.

        Args:
            name: The model.
            versions: Its versions to delete.
            move_files: Moves their folders out of place, inside the transaction.
        """
        with self.transaction() as connection:
            connection.executemany(
                "UPDATE model_versions SET deleted = ? WHERE name = ? AND version = ?",
                [(time.time(), name, version) for version in versions],
            )
            move_files()

    # Integrity ------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """What SQLite's integrity check finds wrong with the file; [] when sound."""
        rows = [row[0] for row in self.connection.execute("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else rows


def get_store() -> JobStore:
    """This request's connection to the job store, opened on first use."""
    if "store" not in g:
        g.store = JobStore(current_app.config["DATA_DIR"])
    return g.store


def close_store(_error: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    """Creates the store's file and schema, and closes each request's connection.

    One connection stays open for the application's life, unused: SQLite
    removes the WAL's `-wal` and `-shm` files when the last connection to the
    file closes, and a reader must create them again, which fails on a full
    disk ("disk I/O error"). Kept open, they stay, so reads (and predictions)
    go on when the disk is full.
    """
    keeper = app.extensions["evokt.store_keeper"] = JobStore(app.config["DATA_DIR"])
    keeper.searches(PENDING)  # a read, which opens the WAL's files
    app.teardown_appcontext(close_store)
