"""Thin Flask blueprints: parse the HTTP request, call a service, render the answer."""

from __future__ import annotations

from flask import current_app

from gateway.state import Gateway


def current_gateway() -> Gateway:
    return current_app.extensions["punchgate"]
