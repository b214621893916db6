"""Real documents from other projects and buyer systems (../shared/interop/)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from gateway.cxml.envelope import parse_envelope
from gateway.cxml.setup import parse_setup_request
from gateway.xml import parse
from tests.conftest import INTEROP, requires_shared, write_buyers
from tests.documents import start_path, status

CXML = INTEROP / "cxml"
pytestmark = requires_shared
# Documents that are genuinely invalid, with the code they must get whatever is configured.
INVALID = {
    "business-cxml/profile2-request.xml": 406,  # From/To/Sender Identity elements are empty
}
SETUPS = sorted(p for p in CXML.rglob("*.xml") if b"<PunchOutSetupRequest" in p.read_bytes())
PROFILES = sorted(
    p
    for p in CXML.rglob("*.xml")
    if b"<ProfileRequest" in p.read_bytes() and str(p.relative_to(CXML)) not in INVALID
)

# Expected answers for the other requests kept there, when the sender is configured.
OTHER_REQUESTS = {
    "business-cxml/garbage-request.xml": 450,  # unknown request type
    # Well-formed, but it reports on a document this gateway never exchanged.
    "cxml-php/StatusUpdateRequest.xml": 406,
}


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def buyer_config_for(raw: bytes) -> str:
    """A buyer file that accepts this document's own From and Sender credentials."""
    env = parse_envelope(parse(raw))
    lines = [
        "[supplier]",
        'name = "Interop Supplier"',
        "[[supplier.credential]]",
        'domain = "NetworkID"',
        'identity = "AN-SUPPLIER"',
        "[[buyer]]",
        'id = "interop"',
        'name = "Interop Buyer"',
    ]
    prefixes = []
    if env.name == "PunchOutSetupRequest":
        url = parse_setup_request(env.body).browser_form_post
        if url:
            parts = urlsplit(url)
            prefixes.append(f"{parts.scheme}://{parts.netloc}/")
    if prefixes:  # none: a buyer that only sends orders (or profile requests)
        lines.append(f"return_url_prefixes = [{', '.join(_toml_string(p) for p in prefixes)}]")
    for cred in env.from_:
        lines += [
            "[[buyer.cxml.from]]",
            f"domain = {_toml_string(cred.domain)}",
            f"identity = {_toml_string(cred.identity)}",
        ]
    for cred in env.sender:
        if cred.shared_secret:
            lines += [
                "[[buyer.cxml.sender]]",
                f"domain = {_toml_string(cred.domain)}",
                f"identity = {_toml_string(cred.identity)}",
                f"shared_secret = {_toml_string(cred.shared_secret)}",
            ]
    # Real fixtures carry short demo secrets ("password", "test").
    lines += ["[buyer.credentials]", "allow_weak = true"]
    return "\n".join(lines) + "\n"


def test_the_interop_folder_is_there():
    assert len(SETUPS) >= 12, "../shared/interop/ must sit beside the project"


@pytest.mark.parametrize("path", SETUPS, ids=lambda p: str(p.relative_to(CXML)))
def test_every_setup_request_is_accepted(client, gateway, tmp_path, path, dtd):
    raw = path.read_bytes()
    write_buyers(gateway, tmp_path, buyer_config_for(raw))
    r = client.post("/cxml", data=raw, content_type="text/xml")
    code, text = status(r.data)
    assert code == 200, text
    assert dtd.validate(r.data) == []
    start = client.get(start_path(r.data))
    assert start.status_code == 302
    shop = client.get(start.headers["Location"])
    assert shop.status_code in (200, 404)  # 404: a SelectedItem that is not in this catalog


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: str(p.relative_to(CXML)))
def test_profile_requests(client, gateway, tmp_path, path):
    raw = path.read_bytes()
    config = buyer_config_for(raw)
    if "[[buyer.cxml.sender]]" not in config:
        pytest.skip("document carries no SharedSecret to configure")
    write_buyers(gateway, tmp_path, config)
    code, text = status(client.post("/cxml", data=raw).data)
    assert code == 200, text


@pytest.mark.parametrize("name", sorted(OTHER_REQUESTS))
def test_other_requests(client, gateway, tmp_path, name):
    raw = (CXML / name).read_bytes()
    write_buyers(gateway, tmp_path, buyer_config_for(raw))
    assert status(client.post("/cxml", data=raw).data)[0] == OTHER_REQUESTS[name]


def test_unconfigured_buyer_gets_401(client, gateway):
    raw = (CXML / "cxml-ruby/punch_out_setup_request_doc_coupa.xml").read_bytes()
    assert status(client.post("/cxml", data=raw).data)[0] == 401


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_documents(client, demo, name):
    code, text = status(client.post("/cxml", data=(CXML / name).read_bytes()).data)
    assert code == INVALID[name], text
    assert "has no Identity" in text
