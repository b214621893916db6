"""cXML Status codes as exceptions: raised deep, rendered once at the edge."""

from __future__ import annotations


class CxmlError(Exception):
    """Base class: ``code`` and ``reason`` are the Status code and its standard text."""

    code = 500
    reason = "Internal Server Error"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail

    @property
    def text(self) -> str:
        return f"{self.reason}: {self.detail}"


class BadRequest(CxmlError):
    """400: the document is not well-formed, not cXML, or refused by the XML policy."""

    code = 400
    reason = "Bad Request"


class Unauthorized(CxmlError):
    """401: the credentials in the Header (From/Sender) are not recognised."""

    code = 401
    reason = "Unauthorized"


class NotAcceptable(CxmlError):
    """406: well-formed, but the request is incomplete or invalid."""

    code = 406
    reason = "Not Acceptable"


class Conflict(CxmlError):
    """409: the current state is incompatible with the request."""

    code = 409
    reason = "Conflict"


class NotImplementedRequest(CxmlError):
    """450: the server does not implement this request type."""

    code = 450
    reason = "Not Implemented"


class SignatureRequired(CxmlError):
    """475: the document lacks a digital signature the receiver requires."""

    code = 475
    reason = "Signature Required"


class SignatureVerificationFailed(CxmlError):
    """476: the signature is invalid or uses an unsupported algorithm."""

    code = 476
    reason = "Signature Verification Failed"


class InternalError(CxmlError):
    """500: a transient failure; the sender may retry, nothing was half-stored."""

    code = 500
    reason = "Internal Server Error"


STATUS_TEXT = {
    200: "OK",
    201: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    406: "Not Acceptable",
    409: "Conflict",
    450: "Not Implemented",
    475: "Signature Required",
    476: "Signature Verification Failed",
    500: "Internal Server Error",
}
