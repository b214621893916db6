"""XML signatures on cXML documents (signxml): enveloped, whole document, RSA-SHA256.

Inbound documents are verified against the buyer's pinned certificate, and only
the content signxml reports as signed is processed, which must be the whole
``<cXML>`` element. A signature over some other part (a wrapped or moved
element) is refused, so a signed fragment can never vouch for unsigned content.
"""

from __future__ import annotations

import logging

from lxml import etree
from signxml import (
    InvalidInput,
    InvalidSignature,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
    methods,
)
from signxml.exceptions import SignXMLException

from gateway.cxml.errors import SignatureRequired, SignatureVerificationFailed
from gateway.xml import parse

# signxml logs the canonicalised content it signs or verifies at DEBUG, and in
# cXML that content includes the Sender's SharedSecret: its debug output must
# never be on, whatever level the application's logging runs at.
logging.getLogger("signxml").setLevel(logging.WARNING)

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def sign(document: bytes, key_pem: bytes, cert_pem: bytes) -> bytes:
    """The document with an enveloped ds:Signature as the last child of <cXML>."""
    parsed = parse(document)
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm=EXC_C14N,
    )
    signed = signer.sign(parsed.root, key=key_pem, cert=cert_pem)
    head = document[: document.index(b"<cXML")]
    return head + etree.tostring(signed, encoding="UTF-8")


def has_signature(root: etree._Element) -> bool:
    return root.find(f"{{{DS}}}Signature") is not None


def verify(root: etree._Element, cert_pem: str | None, required: bool) -> etree._Element:
    """The signed <cXML> element to process, or the document itself when unsigned and
    allowed; raises 475 or 476."""
    if not has_signature(root):
        if required:
            raise SignatureRequired("this buyer's documents must carry an XML signature")
        return root
    if not cert_pem:
        raise SignatureVerificationFailed(
            "no certificate is pinned for this buyer to verify the signature with"
        )
    config = SignatureConfiguration(
        expect_references=1,
        signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
    )
    try:
        result = XMLVerifier().verify(root, x509_cert=cert_pem, expect_config=config)
    except (InvalidSignature, InvalidInput, SignXMLException) as exc:
        raise SignatureVerificationFailed(f"signature not valid: {exc}") from None
    signed = result.signed_xml
    if signed is None or signed.tag != "cXML" or signed.getparent() is not None:
        raise SignatureVerificationFailed("the signature must cover the whole cXML document")
    return signed
