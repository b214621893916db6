import pytest

from gateway.cxml.envelope import parse_envelope
from gateway.cxml.errors import BadRequest, NotAcceptable, NotImplementedRequest
from gateway.xml import parse
from tests.conftest import INTEROP, requires_shared
from tests.documents import envelope


def test_multiple_credentials_case_and_comments():
    sender = (
        '<Credential domain="NetworkId"><!-- class: ariba --><Identity>AN1-T</Identity>'
        "<SharedSecret>one</SharedSecret></Credential>"
        '<Credential domain="AribaNetworkUserId"><Identity>sysadmin@ariba.com</Identity>'
        "<SharedSecret>two</SharedSecret></Credential>"
    )
    env = parse_envelope(parse(envelope("<ProfileRequest/>", sender_xml=sender)))
    assert [c.key for c in env.sender] == [
        ("networkid", "an1-t"),
        ("aribanetworkuserid", "sysadmin@ariba.com"),
    ]
    assert env.sender[1].shared_secret == "two"
    assert env.name == "ProfileRequest"
    assert env.version == "1.2.069"


def test_version_from_attribute_without_doctype():
    env = parse_envelope(parse(envelope("<ProfileRequest/>", doctype=False, version="1.2.045")))
    assert env.version == "1.2.045"


@requires_shared
def test_coupa_ruby_timestamp_is_kept_raw_and_parsed():
    raw = (INTEROP / "cxml/cxml-ruby/punch_out_setup_request_doc_coupa.xml").read_bytes()
    env = parse_envelope(parse(raw))
    assert env.timestamp_raw == "Mon May 19 18:29:48 +0000 2008"
    assert env.timestamp.year == 2008


@pytest.mark.parametrize(
    "doc, error, words",
    [
        (b"<Order/>", BadRequest, "not a cXML document"),
        (
            b'<cXML payloadID="x" timestamp="t"><Request><ProfileRequest/></Request></cXML>',
            NotAcceptable,
            "Header is missing",
        ),
        (b'<cXML timestamp="t"><Header/></cXML>', NotAcceptable, "payloadID"),
        (b'<cXML payloadID="x" version="2.0"/>', NotAcceptable, "version '2.0'"),
        (
            b'<cXML payloadID="x"><Response><Status code="200" text="OK"/></Response></cXML>',
            NotImplementedRequest,
            "Response",
        ),
    ],
)
def test_envelope_errors_name_the_problem(doc, error, words):
    with pytest.raises(error, match=words):
        parse_envelope(parse(doc))


def test_missing_sender_identity_is_named():
    doc = envelope(
        "<ProfileRequest/>", sender_xml='<Credential domain="x"><Identity/></Credential>'
    )
    with pytest.raises(NotAcceptable, match="Header/Sender/Credential has no Identity"):
        parse_envelope(parse(doc))
