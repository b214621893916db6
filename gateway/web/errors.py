"""Error pages: no input ever produces a stack trace, and /api answers JSON."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from gateway.limits import StorageLimit

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _page(code: int, title: str, message: str):
    if _wants_json():
        return jsonify(error=title, detail=message), code
    return render_template("error.html", title=title, message=message), code


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if _wants_json():
            return jsonify(error=exc.name, detail=exc.description), exc.code
        if request.path.startswith("/support"):
            # Inside the console: its own page, with the way back.
            page = render_template(
                "support/error.html", title=exc.name, message=exc.description, back=None
            )
            return page, exc.code
        return render_template("error.html", title=exc.name, message=exc.description), exc.code

    @app.errorhandler(StorageLimit)
    def unstorable(exc: StorageLimit):
        # The same answer on SQLite and PostgreSQL: the input, not the database, is at fault.
        log.info("refused %s %s: %s", request.method, request.path, exc)
        return _page(400, "Value not accepted", str(exc))

    @app.errorhandler(DataError)
    def data_error(exc: DataError):
        log.warning("database refused a value on %s %s", request.method, request.path)
        return _page(400, "Value not accepted", "a value in the request cannot be stored")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = "Something went wrong on our side. Please try again in a moment."
        if _wants_json():
            return jsonify(error="Internal Server Error", detail=message), 500
        if request.path.startswith("/support"):
            page = render_template(
                "support/error.html", title="Temporary problem", message=message, back=None
            )
            return page, 500
        return render_template("error.html", title="Temporary problem", message=message), 500
