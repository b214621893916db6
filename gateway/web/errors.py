"""Error pages: no input ever produces a stack trace, and /api answers JSON."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


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

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Session tokens travel in URLs for cookie-less procurement browsers;
        # never hand them to another site in a Referer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; script-src 'self'; "
                "style-src 'self'; base-uri 'none'; object-src 'none'",
            )
        return response
