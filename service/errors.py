"""The one error format of the API: `{"error": "..."}` with a 4xx or 5xx code."""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask
from flask import jsonify
from werkzeug.exceptions import HTTPException

from evokt.service.disk import failed_for_space

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered to the client.

    Args:
        status: The HTTP status code.
        message: What went wrong, naming the field or resource.
        headers: Extra response headers (`WWW-Authenticate`, `Retry-After`).
    """

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_response(status: int, message: str, headers: dict | None = None):
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def init_app(app: Flask) -> None:
    """Answers every error, Flask's own included, in the API's format."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.message, error.headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        headers = {"Allow": error.valid_methods} if getattr(error, "valid_methods", None) else {}
        if headers:
            headers["Allow"] = ", ".join(headers["Allow"])
        return error_response(error.code or 500, error.description or error.name, headers)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if failed_for_space(error, app.config["DATA_DIR"]):
            # Nothing was written: the transaction rolled back, the file was not renamed.
            logger.warning("a write failed, the disk is full: %s", error)
            return error_response(507, "the data directory's disk is full; nothing was "
                                       "written: delete datasets, searches or model versions, "
                                       "or free space on the disk")
        problem = store_problem(error)
        if problem == "damaged":
            logger.error("the job store is damaged: %s", error)
            return error_response(503, damaged_store_message(app.config["DATA_DIR"], error))
        if problem == "unavailable":
            logger.error("the job store is not available: %s", error)
            return error_response(503, f"the job store is not available ({error}); retry later",
                                  {"Retry-After": "5"})
        logger.exception("unhandled error")
        return error_response(500, "internal error; see the server log")


# SQLite's result codes (Python 3.11's `sqlite_errorname`; the messages before it).
_DAMAGED = {"SQLITE_CORRUPT": "malformed", "SQLITE_NOTADB": "not a database"}
_UNAVAILABLE = {"SQLITE_BUSY": "is locked", "SQLITE_LOCKED": "table is locked",
                "SQLITE_IOERR": "disk I/O error", "SQLITE_CANTOPEN": "unable to open"}


def store_problem(error: BaseException) -> str | None:
    """"damaged" for a job store SQLite cannot read, "unavailable" for one it cannot
    reach now (locked, an I/O error), None for any other error (evokt's own bugs).

    Args:
        error: An exception raised while handling a request.
    """
    if not isinstance(error, sqlite3.DatabaseError):
        return None
    name = getattr(error, "sqlite_errorname", "") or ""
    for problem, codes in (("damaged", _DAMAGED), ("unavailable", _UNAVAILABLE)):
        if any(name.startswith(code) or (not name and words in str(error))
               for code, words in codes.items()):
            return problem
    return None


def damaged_store_message(data_dir: str, error: BaseException) -> str:
    """What to do about a job store that SQLite cannot read, in one line.

    Args:
        data_dir: The data directory.
        error: What SQLite said.
    """
    return (f"the job store in {data_dir} is damaged ({error}); stop the server, run "
            f"'evokt store check --data-dir {data_dir}', then 'evokt store rebuild --data-dir "
            f"{data_dir}' to rebuild it from the data directory")
