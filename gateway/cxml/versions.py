"""cXML versions: which ones are read, and which one an answer is written in.

Buyers send every version from 1.0 to 1.2.069, declared in the DOCTYPE system
id, the ``version`` attribute, both (the DOCTYPE wins: it names the DTD the
document claims to follow) or neither. The gateway writes only versions whose
official DTD its documents are tested against.
"""

from __future__ import annotations

import re

# The official DTDs every emitted document is validated against, by file: a
# document is written only in a version whose DTD for it is known.
EMITTED = {
    "cXML.dtd": ("1.2.014", "1.2.020", "1.2.036", "1.2.050", "1.2.063", "1.2.069"),
    "Fulfill.dtd": ("1.2.050", "1.2.063", "1.2.069"),
    "InvoiceDetail.dtd": ("1.2.020", "1.2.037", "1.2.069"),
}
DEFAULT = "1.2.069"

_READ = re.compile(r"^1\.[012](\.\d{1,3})?$")
_IN_SYSTEM_ID = re.compile(r"/cxml/(\d+\.\d+(?:\.\d+)?)/[^/]*\.dtd\s*$", re.IGNORECASE)


def declared(system_url: str | None, attribute: str | None) -> str | None:
    """The version a document declares, or None when it declares none."""
    match = _IN_SYSTEM_ID.search(system_url or "")
    if match:
        return match.group(1)
    return (attribute or "").strip() or None


def readable(version: str) -> bool:
    return bool(_READ.match(version))


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def answer_version(
    configured: str | None, request: str | None, default: str, dtd: str = "cXML.dtd"
) -> str:
    """The version a document for this buyer is written in.

    The buyer's configured version wins, then the version of the buyer's own
    request when we emit it, then ``default``. A document whose DTD does not
    exist in that version (Fulfill.dtd before 1.2.050) takes the oldest version
    at or after it that has one.
    """
    known = EMITTED.get(dtd, EMITTED["cXML.dtd"])
    if configured:
        wanted = configured
    elif request in EMITTED["cXML.dtd"]:
        wanted = request
    else:
        wanted = default
    if dtd == "cXML.dtd" or wanted in known:
        return wanted
    later = [v for v in known if _key(v) >= _key(wanted)]
    return later[0] if later else known[-1]
