"""What an operator sees of the gateway: request ids, JSON logs, Prometheus metrics.

``request_id()`` is the id of the request being served (taken from a valid
``X-Request-Id`` or generated, echoed on every answer, stored with the session
events); ``install(app)`` adds the hooks to the Flask app.
"""

from gateway.observability.context import request_id

__all__ = ["install", "request_id"]


def install(app) -> None:
    from gateway.observability.web import install as _install

    _install(app)
