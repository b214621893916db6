"""Punchgate: a punchout and procurement integration gateway (cXML, SAP OCI)."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from werkzeug.routing import IntegerConverter

from gateway import observability
from gateway.config import Settings
from gateway.ranges import INT_MAX
from gateway.state import Gateway


class BoundedInt(IntegerConverter):
    """Flask's int converter, bounded to what an INTEGER column holds."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002  (werkzeug's signature)
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)


class SupportCookieSession(SecureCookieSessionInterface):
    """Flask's signed cookie session, with no signer built for a request with no cookies.

    Only the support console sets a cookie; buyer systems and punchout browsers send
    none, and building the signer cost every cXML and OCI request about 3% of its time.
    """

    def open_session(self, app, request):
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the WSGI application: configuration, database, blueprints, error pages."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # /cxml enforces its own, cXML-shaped limit; this guards every other route.
        MAX_CONTENT_LENGTH=settings.max_document_bytes + 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=4 * 1024 * 1024,
        JSON_SORT_KEYS=False,
        # The support console's cookie; the punchout pages use no cookie at all.
        SESSION_COOKIE_NAME="punchgate_support",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=8 * 3600,
    )
    app.session_interface = SupportCookieSession()
    app.extensions["punchgate"] = Gateway.from_settings(settings)
    # Every <int:...> in a URL is an id the database can hold: a larger one is a 404,
    # not an overflow error from the driver.
    app.url_map.converters["int"] = BoundedInt

    from gateway.web import (
        api,
        credentials_api,
        cxml,
        demo,
        errors,
        headers,
        health,
        marketplace,
        oci,
        punchout,
        request_log,
        shop,
        support,
    )

    for module in (cxml, oci, punchout, shop, api, marketplace, credentials_api, support, health):
        app.register_blueprint(module.bp)
    if settings.demo:
        app.register_blueprint(demo.bp)
    errors.register(app)
    headers.register(app, settings.image_sources)
    observability.install(app)
    request_log.register(app)
    return app
