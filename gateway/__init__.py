"""Punchgate: a punchout and procurement integration gateway (cXML, SAP OCI)."""

from __future__ import annotations

from flask import Flask

from gateway.config import Settings
from gateway.state import Gateway


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
    app.extensions["punchgate"] = Gateway.from_settings(settings)

    from gateway.web import (
        api,
        credentials_api,
        cxml,
        errors,
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
    errors.register(app)
    request_log.register(app)
    return app
