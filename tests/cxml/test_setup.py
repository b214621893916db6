from decimal import Decimal

import pytest

from gateway.cxml.envelope import parse_envelope
from gateway.cxml.errors import NotAcceptable
from gateway.cxml.setup import parse_setup_request, user_identity
from gateway.xml import parse
from tests.conftest import INTEROP, requires_shared
from tests.documents import setup_request

BCXML = INTEROP / "cxml" / "business-cxml"


def _setup(raw: bytes):
    return parse_setup_request(parse_envelope(parse(raw)).body)


@requires_shared
def test_coupa_contact_before_browserformpost_is_read():
    setup = _setup((INTEROP / "cxml/cxml-ruby/punch_out_setup_request_doc_coupa.xml").read_bytes())
    assert setup.browser_form_post == "https://qa.coupahost.com/punchout/checkout/4"
    ident = user_identity(setup)
    assert ident.email == "noah+jim@coupa.com"
    assert ident.unique_name == "jim"
    assert ident.name == "Jim Halpert"


@requires_shared
@pytest.mark.parametrize(
    "name, email, unique, full",
    [
        ("punchoutsetup1-request.xml", "1234@remotehost", None, "John Smith"),
        ("punchoutsetup8-request.xml", "1234@remotehost", None, "John Smith"),
        ("punchoutsetup5-request.xml", "1234@remotehost", None, None),
    ],
)
def test_business_cxml_identity_sources(name, email, unique, full):
    ident = user_identity(_setup((BCXML / name).read_bytes()))
    assert (ident.email, ident.unique_name, ident.name) == (email, unique, full)


@requires_shared
def test_every_business_cxml_setup_names_someone():
    for path in sorted(BCXML.glob("punchoutsetup*-request.xml")):
        ident = user_identity(_setup(path.read_bytes()))
        assert ident.email or ident.unique_name or ident.name, path.name


def test_coupa_email_in_contact_name():
    contact = '<Contact role="endUser"><Name xml:lang="en">buyer@globex.example</Name></Contact>'
    ident = user_identity(_setup(setup_request(extrinsics={}, contact=contact)))
    assert ident.email == "buyer@globex.example"
    assert ident.name is None


def test_roles_from_extrinsics_as_list():
    ident = user_identity(
        _setup(setup_request(extrinsics={"UserEmail": "a@b.c", "Roles": "Purchaser, Approver"}))
    )
    assert ident.roles == ("Purchaser", "Approver")


def test_edit_items_and_selected_item():
    setup = _setup(
        setup_request(
            operation="edit",
            selected="NW-1001",
            items=[("NW-1001", "PG-1", "2"), ("NW-2001", "", "1.5")],
        )
    )
    assert setup.operation == "edit"
    assert setup.selected_item == "NW-1001"
    assert [(i.supplier_part_id, i.aux_id, i.quantity) for i in setup.items] == [
        ("NW-1001", "PG-1", Decimal("2")),
        ("NW-2001", "", Decimal("1.5")),
    ]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"operation": "destroy"}, "operation must be one of"),
        ({"operation": "source"}, "'source' is not supported"),
        ({"items": [("NW-1", "", "many")]}, r"ItemOut\[1\]/@quantity is not a number"),
    ],
)
def test_invalid_setup_requests_name_the_element(kwargs, words):
    with pytest.raises(NotAcceptable, match=words):
        _setup(setup_request(**kwargs))


def test_edit_line_without_supplier_part_is_read():
    """A service line in an edit request does not refuse the punchout; the rebuild drops it."""
    setup = _setup(setup_request(operation="edit", items=[("", "", "1"), ("NW-1", "", "2")]))
    assert [i.supplier_part_id for i in setup.items] == ["", "NW-1"]


def test_missing_buyer_cookie():
    raw = setup_request().replace(b"<BuyerCookie>cookie-1</BuyerCookie>", b"")
    with pytest.raises(NotAcceptable, match="BuyerCookie is missing"):
        _setup(raw)
