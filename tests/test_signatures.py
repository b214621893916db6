"""Signed cXML: verified against the buyer's pinned certificate, only signed content used."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner, XMLVerifier, methods
from sqlalchemy import select

from gateway import create_app, outbox
from gateway.config import Settings
from gateway.cxml.signing import EXC_C14N, sign
from gateway.models import Order
from gateway.xml import parse
from tests.conftest import demo_buyers_with, write_buyers
from tests.documents import order_request, status
from tests.test_order_journey import BuyerEndpoint, happen

LINE = [{"sku": "NW-1001", "qty": "1", "price": "12.90"}]


def keypair(tmp_path, name: str) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / f"{name}.key").write_bytes(key_pem)
    (tmp_path / f"{name}.crt").write_bytes(cert_pem)
    return key_pem, cert_pem


@pytest.fixture
def buyer_keys(tmp_path):
    return keypair(tmp_path, "buyer")


def signing(tmp_path, require: bool) -> str:
    return (
        f"[buyer.signing]\nrequire_signed = {str(require).lower()}\nsign_outbound = true\n"
        f'certificate_file = "{tmp_path / "buyer.crt"}"\n'
    )


@pytest.fixture
def signed_buyer(demo, tmp_path, buyer_keys):
    write_buyers(demo, tmp_path, demo_buyers_with(signing(tmp_path, require=True)))
    return demo


def exclusive_signer() -> XMLSigner:
    # Exclusive c14n, so a signed fragment still verifies after it is moved elsewhere.
    return XMLSigner(
        method=methods.enveloped,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm=EXC_C14N,
    )


def post(client, body):
    return status(client.post("/cxml", data=body).data)


def test_signed_order_is_taken(client, signed_buyer, buyer_keys):
    assert post(client, sign(order_request(LINE), *buyer_keys))[0] == 200


def test_unsigned_when_required_475(client, signed_buyer):
    code, text = post(client, order_request(LINE))
    assert code == 475 and "must carry an XML signature" in text


def test_wrong_key_476(client, signed_buyer, tmp_path):
    code, text = post(client, sign(order_request(LINE), *keypair(tmp_path, "intruder")))
    assert code == 476 and "signature not valid" in text
    with signed_buyer.db.transaction() as db:
        assert db.scalars(select(Order)).all() == []


def test_tampered_after_signing_476(client, signed_buyer, buyer_keys):
    signed = sign(order_request(LINE), *buyer_keys)
    tampered = signed.replace(b'quantity="1"', b'quantity="900"')
    code, text = post(client, tampered)
    assert code == 476 and "signature not valid" in text


def test_signature_wrapping_attack_is_refused(client, signed_buyer, buyer_keys):
    # Sign only the Request (by Id), then move the signed Request into ds:Object and put a
    # forged Request where the gateway would read it. The signature itself still verifies.
    key_pem, cert_pem = buyer_keys
    raw = order_request(LINE).replace(b"<Request>", b'<Request Id="cXMLData">')
    root = parse(raw).root
    signed = exclusive_signer().sign(root, key=key_pem, cert=cert_pem, reference_uri="#cXMLData")
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    original = signed.find("Request")
    forged = etree.fromstring(etree.tostring(original))
    forged.set("Id", "forged")
    forged.find(".//ItemOut").set("quantity", "900")
    signed.remove(original)
    obj = etree.SubElement(signed.find(f"{ds}Signature"), f"{ds}Object")
    obj.append(original)
    signed.find(f"{ds}Signature").addprevious(forged)
    attack = raw[: raw.index(b"<cXML")] + etree.tostring(signed)
    # The signature really is valid: only the gateway's own check can stop this.
    XMLVerifier().verify(parse(attack).root, x509_cert=cert_pem.decode())
    code, text = post(client, attack)
    assert code == 476 and "must cover the whole cXML document" in text
    with signed_buyer.db.transaction() as db:
        assert db.scalars(select(Order)).all() == []


def test_signature_over_part_of_the_document_is_refused(client, signed_buyer, buyer_keys):
    key_pem, cert_pem = buyer_keys
    raw = order_request(LINE).replace(b"<Request>", b'<Request Id="cXMLData">')
    signed = exclusive_signer().sign(
        parse(raw).root, key=key_pem, cert=cert_pem, reference_uri="#cXMLData"
    )
    code, text = post(client, raw[: raw.index(b"<cXML")] + etree.tostring(signed))
    assert code == 476 and "must cover the whole cXML document" in text


def test_outbound_documents_are_signed(client, signed_buyer, buyer_keys, tmp_path, settings, dtd):
    supplier_key, supplier_cert = keypair(tmp_path, "supplier")
    endpoint = BuyerEndpoint()
    try:
        outbound = (
            f'[buyer.outbound]\nurl = "{endpoint.url}"\n'
            'shared_secret = "acme-inbound-cxml-secret-2026"\n'
        )
        write_buyers(
            signed_buyer, tmp_path, demo_buyers_with(signing(tmp_path, require=True) + outbound)
        )
        assert post(client, sign(order_request(LINE), *buyer_keys))[0] == 200
        app = create_app(
            Settings(
                **{
                    **settings.__dict__,
                    "signing_key_file": str(tmp_path / "supplier.key"),
                    "signing_cert_file": str(tmp_path / "supplier.crt"),
                }
            )
        )
        gateway = app.extensions["punchgate"]
        outbox.run_once(gateway)
        with gateway.db.transaction() as db:
            order = db.scalars(select(Order)).one()
        assert happen(gateway, order, "sig-1", "confirmed").sent == 1
        [raw] = endpoint.documents
        assert dtd.validate(raw) == []
        verified = XMLVerifier().verify(parse(raw).root, x509_cert=supplier_cert.decode())
        assert verified.signed_xml.tag == "cXML"
        assert verified.signed_xml.findtext("Header/Sender/Credential/SharedSecret") == (
            "acme-inbound-cxml-secret-2026"
        )
        gateway.db.dispose()
    finally:
        endpoint.close()


def test_signing_without_a_key_dead_letters_with_a_reason(
    client, signed_buyer, buyer_keys, tmp_path
):
    endpoint = BuyerEndpoint()
    try:
        outbound = f'[buyer.outbound]\nurl = "{endpoint.url}"\n'
        write_buyers(
            signed_buyer, tmp_path, demo_buyers_with(signing(tmp_path, require=False) + outbound)
        )
        assert post(client, sign(order_request(LINE), *buyer_keys))[0] == 200
        outbox.run_once(signed_buyer)
        with signed_buyer.db.transaction() as db:
            order = db.scalars(select(Order)).one()
        assert happen(signed_buyer, order, "sig-2", "confirmed").dead == 1
        assert endpoint.documents == []
    finally:
        endpoint.close()


def test_config_needs_a_certificate_for_required_signatures(demo, tmp_path):
    from provisioning.buyers import ConfigError

    with pytest.raises(ConfigError, match="require_signed needs the buyer's certificate"):
        write_buyers(demo, tmp_path, demo_buyers_with("[buyer.signing]\nrequire_signed = true"))
