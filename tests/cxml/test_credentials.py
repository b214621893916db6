from datetime import UTC, datetime

from gateway.cxml.credentials import credential_mac, secrets_equal, verify_mac
from gateway.cxml.envelope import Credential, CredentialMac


def test_reference_vector():
    assert (
        credential_mac(
            "abracadabra",
            "NetworkID",
            "AN9900000100",
            "NetworkID",
            "AN9900000100",
            "2003-01-15T08:42:46-08:00",
            "2003-01-15T11:42:46-08:00",
        )
        == "cR6Jpz58nriXERDN"
    )


def test_domains_and_identities_are_case_insensitive():
    args = ("2003-01-15T08:42:46-08:00", "2003-01-15T11:42:46-08:00")
    a = credential_mac(
        "abracadabra", "networkid", "an9900000100", "NETWORKID", "AN9900000100", *args
    )
    assert a == "cR6Jpz58nriXERDN"


def _mac(value, expires="2003-01-15T11:42:46-08:00"):
    return CredentialMac(
        value, "FromSenderCredentials", "HMAC-SHA1-96", "2003-01-15T08:42:46-08:00", expires
    )


def test_verify_enforces_expiration():
    cred = Credential("NetworkID", "AN9900000100")
    inside = datetime(2003, 1, 15, 18, 0, tzinfo=UTC)
    after = datetime(2003, 1, 15, 20, 0, tzinfo=UTC)
    assert verify_mac("abracadabra", _mac("cR6Jpz58nriXERDN"), cred, cred, inside) is None
    assert "expired" in verify_mac("abracadabra", _mac("cR6Jpz58nriXERDN"), cred, cred, after)


def test_verify_rejects_wrong_value_and_algorithm():
    cred = Credential("NetworkID", "AN9900000100")
    now = datetime(2003, 1, 15, 18, 0, tzinfo=UTC)
    assert (
        verify_mac("other", _mac("cR6Jpz58nriXERDN"), cred, cred, now)
        == "CredentialMac does not match"
    )
    odd = CredentialMac("x", "FromSenderCredentials", "HMAC-MD5", "a", "b")
    assert "not supported" in verify_mac("abracadabra", odd, cred, cred, now)


def test_secrets_equal_handles_non_ascii():
    assert secrets_equal("pässword", "pässword")
    assert not secrets_equal("pässword", "password")
