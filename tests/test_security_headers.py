"""Security headers a browser enforces: framing, scripts, referrers, caches, cookies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway import create_app
from tests.helpers import open_session, sign_in


def csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in policy.split("; ")}


def assert_common(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_storefront_may_be_framed_only_by_the_buyers_return_origins(client, demo):
    token = open_session(client)
    page = client.get(f"/shop/?session={token}")
    assert page.status_code == 200
    assert_common(page)
    policy = csp(page)
    # acme's return_url_prefixes: http://127.0.0.1:9000/punchout/, http://localhost:9000/punchout/
    # The demo buyers return carts to their listener and to the demo page (/demo/received/).
    assert policy["frame-ancestors"] == (
        "'self' http://127.0.0.1:8000 http://127.0.0.1:9000 http://localhost:9000"
    )
    assert policy["script-src"] == "'self'" and policy["object-src"] == "'none'"
    # Product pictures come from the supplier's own image hosts (https by default).
    assert policy["img-src"] == "'self' data: https:"


def test_image_sources_are_configurable_and_checked():
    from gateway.config import ConfigError, Settings

    env = {"PUNCHGATE_DATABASE_URL": "sqlite://", "PUNCHGATE_SECRET_KEY": "k" * 32}
    settings = Settings.from_env({**env, "PUNCHGATE_IMAGE_SOURCES": "https://cdn.example, data:"})
    assert settings.image_sources == ("https://cdn.example", "data:")
    app = create_app(settings)
    policy = csp(app.test_client().get("/support/login"))
    assert policy["img-src"] == "'self' data: https://cdn.example data:"
    for bad in ("https://x.example; script-src *", "'unsafe-inline'", "https://a\r\nX: y"):
        with pytest.raises(ConfigError, match="PUNCHGATE_IMAGE_SOURCES"):
            Settings.from_env({**env, "PUNCHGATE_IMAGE_SOURCES": bad})


def test_the_transfer_page_is_not_cached_and_names_no_referrer(client, demo):
    token = open_session(client)
    page = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert page.status_code == 200
    assert_common(page)
    assert (
        "http://127.0.0.1:9000"
        in page.headers["Content-Security-Policy"].split("frame-ancestors")[1]
    )


@pytest.mark.parametrize("path", ["/support/login", "/support/"])
def test_the_console_is_never_framed(client, agents, path):
    sign_in(client)
    page = client.get(path, follow_redirects=True)
    assert_common(page)
    assert csp(page)["frame-ancestors"] == "'none'"
    assert page.headers["X-Frame-Options"] == "DENY"


def test_error_pages_and_documents_carry_the_headers_too(client, demo):
    missing = client.get("/shop/?session=not-a-token")
    assert missing.status_code >= 400 and "Content-Security-Policy" in missing.headers
    assert_common(missing)
    answer = client.post("/cxml", data=b"<x/>", content_type="text/xml")
    assert_common(answer)


def test_static_files_may_be_cached(client, demo):
    assert "no-store" not in client.get("/static/shop.css").headers.get("Cache-Control", "")


def test_console_cookie_is_secure_behind_https(settings, agents):
    app = create_app(replace(settings, base_url="https://gateway.example"))
    client = app.test_client()
    r = client.get("/support/login", base_url="https://gateway.example")
    cookies = r.headers.getlist("Set-Cookie")
    assert cookies and all("Secure" in c and "HttpOnly" in c for c in cookies)
    app.extensions["punchgate"].db.dispose()
