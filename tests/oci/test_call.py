from decimal import Decimal

import pytest

from gateway.oci.call import CallOptions, OciCallError, parse_call

HOOK = ("HOOK_URL", "https://srm.example/sap/bc/gui?x=1&y=2")


@pytest.mark.parametrize(
    "user_field, password_field",
    [
        ("USERNAME", "PASSWORD"),
        ("username", "password"),
        ("login", "pwd"),
        ("loginname", "PASSWORD"),
        ("~username", "~password"),
        ("user_id", "password"),
    ],
)
def test_login_aliases(user_field, password_field):
    call = parse_call([(user_field, "acme_srm"), (password_field, "pw"), HOOK])
    assert (call.username, call.password) == ("acme_srm", "pw")


def test_custom_hook_url_name_and_echo():
    pairs = [
        ("USERNAME", "u"),
        ("PASSWORD", "p"),
        ("MM_HOOK_URL", "SAPEVENT:POST"),
        ("~OkCode", "ADDI"),
        ("~TARGET", "_parent"),
        ("~CALLER", "CTLG"),
        ("~Extra", "1"),
    ]
    call = parse_call(pairs, CallOptions(hook_url_field="MM_HOOK_URL"))
    assert call.hook_url == "SAPEVENT:POST"
    assert call.echo == (
        ("~OkCode", "ADDI"),
        ("~TARGET", "_parent"),
        ("~CALLER", "CTLG"),
        ("~Extra", "1"),
    )
    assert call.target == "_parent"


def test_login_fields_are_never_echoed():
    call = parse_call([("~username", "u"), ("~password", "secret"), HOOK, ("~OkCode", "ADDI")])
    assert call.echo == (("~OkCode", "ADDI"),)
    assert "secret" not in repr(call)


def test_target_defaults_to_top():
    assert parse_call([HOOK]).target == "_top"


def test_functions():
    assert parse_call([HOOK, ("FUNCTION", "detail"), ("PRODUCTID", "NW-1")]).function == "DETAIL"
    validate = parse_call(
        [HOOK, ("FUNCTION", "VALIDATE"), ("PRODUCTID", "NW-1"), ("QUANTITY", "2,5")]
    )
    assert validate.quantity == Decimal("2.5")
    search = parse_call([HOOK, ("FUNCTION", "BACKGROUND_SEARCH"), ("SEARCHSTRING", "bolt")])
    assert search.search_string == "bolt"
    odd = parse_call([HOOK, ("FUNCTION", "QUANTITY_CHECK")])
    assert odd.function is None and odd.unknown_function == "QUANTITY_CHECK"


@pytest.mark.parametrize(
    "pairs, words",
    [
        ([("USERNAME", "u")], "HOOK_URL parameter is missing"),
        ([HOOK, ("FUNCTION", "DETAIL")], "needs a PRODUCTID"),
        ([HOOK, ("FUNCTION", "SOURCING")], "needs a SEARCHSTRING"),
        (
            [HOOK, ("FUNCTION", "VALIDATE"), ("PRODUCTID", "x"), ("QUANTITY", "lots")],
            "not a number",
        ),
        ([HOOK, ("FUNCTION", "VALIDATE"), ("PRODUCTID", "x"), ("QUANTITY", "0")], "more than 0"),
    ],
)
def test_incomplete_calls_name_the_parameter(pairs, words):
    with pytest.raises(OciCallError, match=words):
        parse_call(pairs)


def test_person_from_extra_parameters():
    call = parse_call(
        [
            HOOK,
            ("email", "Jane@ACME.example"),
            ("first_name", "Jane"),
            ("last_name", "Doe"),
            ("SY-UNAME", "JDOE"),
            ("ROLE", "Purchaser;Approver"),
        ]
    )
    assert (call.email, call.name, call.unique_name) == ("jane@acme.example", "Jane Doe", "JDOE")
    assert call.roles == ("Purchaser", "Approver")
