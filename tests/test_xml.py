"""The hardened parser: what it refuses, what it accepts, and that it opens nothing."""

from __future__ import annotations

import time

import pytest

from gateway.xml import MalformedXML, UnsafeXML, parse

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<cXML>&lol9;</cXML>"""


def quadratic_blowup() -> bytes:
    entity = "A" * 50_000
    refs = "&a;" * 5_000
    return (
        f'<?xml version="1.0"?><!DOCTYPE cXML [<!ENTITY a "{entity}">]><cXML>{refs}</cXML>'.encode()
    )


def external_file(path) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE cXML [<!ENTITY x SYSTEM "file://{path}">]><cXML>&x;</cXML>'
    ).encode()


EXTERNAL_PARAMETER = (
    b'<?xml version="1.0"?><!DOCTYPE cXML [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/evil.dtd">'
    b" %ext;]><cXML/>"
)

ATTACKS = {
    "billion laughs": BILLION_LAUGHS,
    "quadratic blowup": quadratic_blowup(),
    "external parameter entity": EXTERNAL_PARAMETER,
    "undeclared entity reference": b"<cXML>&secret;</cXML>",
    "element declaration in subset": b'<?xml version="1.0"?><!DOCTYPE cXML [<!ELEMENT cXML ANY>]><cXML/>',
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attacks_are_refused_quickly(name):
    started = time.perf_counter()
    with pytest.raises((UnsafeXML, MalformedXML)):
        parse(ATTACKS[name])
    assert time.perf_counter() - started < 0.5


def test_external_entity_never_reads_the_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    with pytest.raises(UnsafeXML) as info:
        parse(external_file(secret))
    assert "TOP-SECRET" not in str(info.value)


def test_doctype_system_file_is_not_opened(tmp_path):
    # A DOCTYPE pointing at a local file that is not a DTD: if the parser opened
    # it, libxml2 would fail with "Content error in the external subset".
    not_a_dtd = tmp_path / "passwd"
    not_a_dtd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    doc = parse(f'<?xml version="1.0"?><!DOCTYPE cXML SYSTEM "file://{not_a_dtd}"><cXML/>'.encode())
    assert doc.root.tag == "cXML"


def test_cxml_doctype_and_empty_internal_subset_are_accepted():
    url = "http://xml.cxml.org/schemas/cXML/1.2.014/cXML.dtd"
    plain = parse(f'<?xml version="1.0"?><!DOCTYPE cXML SYSTEM "{url}"><cXML/>'.encode())
    empty = parse(f'<?xml version="1.0"?><!DOCTYPE cXML SYSTEM "{url}" []><cXML/>'.encode())
    assert plain.system_url == empty.system_url == url


def test_bom_and_declared_charset_are_honoured():
    doc = parse('\ufeff<?xml version="1.0" encoding="UTF-8"?><cXML a="é"/>'.encode())
    assert doc.root.get("a") == "é"
    latin = parse('<?xml version="1.0" encoding="ISO-8859-1"?><cXML a="é"/>'.encode("latin-1"))
    assert latin.root.get("a") == "é"


def test_size_cap():
    body = b"<cXML>" + b"x" * 2000 + b"</cXML>"
    with pytest.raises(UnsafeXML, match="over the limit"):
        parse(body, max_bytes=1000)
    assert parse(body, max_bytes=4000).root.tag == "cXML"


def test_depth_limit():
    deep = b"<a>" * 60 + b"</a>" * 60
    with pytest.raises(UnsafeXML, match="deeper than 50"):
        parse(deep, max_depth=50)
    assert parse(deep, max_depth=100) is not None


@pytest.mark.parametrize("body", [b"", b"   ", b"not xml", b"<a><b></a>", b"<a>"])
def test_malformed(body):
    with pytest.raises(MalformedXML):
        parse(body)


def test_comments_are_kept_out_of_values():
    from gateway.cxml.envelope import text

    doc = parse(b"<cXML><Identity><!-- note -->AN01<!-- x --></Identity></cXML>")
    assert text(doc.root.find("Identity")) == "AN01"
