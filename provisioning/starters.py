"""``punchgate buyers new ID --system S``: a commented starter buyer file and its fixtures.

Each buyer system gets the settings its known quirks need (the README's "Buyer
systems" table and fixtures/<system>/), and a copy of that system's fixtures
addressed to the new buyer, so that ``punchgate replay`` shows the connection
working before the buyer's first call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass(frozen=True)
class System:
    title: str
    fixtures: str  # folder under fixtures/
    return_prefix: str  # where the system posts carts back (to be confirmed with the buyer)
    body: str  # the buyer's tables, with {id} and {ENV} (its environment variable prefix)


_CXML = """\
[[buyer.cxml.from]]
# The buyer's identity in the From header of every document it sends.
domain = "{from_domain}"
identity = "{from_identity}"
[[buyer.cxml.sender]]
# Who sends (often the network, not the buyer), with the shared secret agreed with the buyer.
domain = "{sender_domain}"
identity = "{sender_identity}"
shared_secret_env = "{ENV}_SHARED_SECRET"
"""


def _identity(domain: str, identity: str) -> str:
    """The From and Sender credentials; most systems send the buyer's identity in both."""
    return _CXML.format(
        from_domain=domain,
        from_identity=identity,
        sender_domain=domain,
        sender_identity=identity,
        ENV="{ENV}",
    )


SYSTEMS: dict[str, System] = {
    "ariba": System(
        "SAP Ariba",
        "ariba",
        "https://service.ariba.com/",
        """\
[buyer.cxml]
# Ariba posts the cart back only through the browser form, URL-encoded.
form_encoding = "cxml-urlencoded"
# Ariba Buyer edits and inspects carts it already has.
operation_allowed = "edit"
"""
        + _identity("NetworkID", "AN01000000100-T")
        + """\
# Ariba sends several credentials per party (SystemID, EndPointID, ...): only the ones
# above identify the buyer; the others are ignored. Test accounts end in -T.
""",
    ),
    "coupa": System(
        "Coupa",
        "coupa",
        "https://CUSTOMER.coupahost.com/",
        """\
[buyer.cxml]
# Coupa's Punchout Site must have supports-edit/supports-inspect ticked to use them.
operation_allowed = "edit"
form_encoding = "cxml-urlencoded"
"""
        + _identity("DUNS", "123456789")
        + """\
# Coupa sends the literal "none" when no secret is set on its side, and fails a cart whose
# unit of measure is not enabled in the customer's Coupa: agree the UOM list up front.
""",
    ),
    "jaggaer": System(
        "Jaggaer (SciQuest)",
        "jaggaer",
        "https://solutions.sciquest.com/",
        """\
[buyer.cxml]
operation_allowed = "edit"
"""
        + _identity("NetworkID", "JAGGAER-CUSTOMER")
        + """\
# Jaggaer timestamps may have a space before the offset, or no colon in it: both are read.
""",
    ),
    "oracle": System(
        "Oracle iProcurement / Fusion",
        "oracle",
        "https://CUSTOMER.oraclecloud.com/",
        """\
[buyer.cxml]
# Oracle sends an old cXML version and timestamps without a zone (read as UTC).
version = "1.2.014"
operation_allowed = "edit"
form_encoding = "cxml-urlencoded"
"""
        + _identity("DUNS", "987654321"),
    ),
    "sap-oci": System(
        "SAP SRM / S/4HANA (OCI)",
        "sap-oci",
        "https://srm.CUSTOMER.example/",
        """\
[buyer.oci]
# The catalog login SRM sends (USERNAME / PASSWORD, any case).
username = "{id}_catalog"
password_env = "{ENV}_OCI_PASSWORD"
# SRM 7 may rename HOOK_URL (its type is "Return URL"): name the field it really sends.
hook_url_field = "HOOK_URL"
# SAP expects ISO unit codes; map the catalog's units to them.
unit_map = {{ EA = "PCE", BX = "BOX", PK = "PAC" }}
# Older SRM releases count items from 0 and return via SAPEVENT: set index_base = 0 and
# allow_sapevent = true for those.
index_base = 1
decimals = 3
""",
    ),
    "generic": System(
        "any cXML procurement system",
        "generic",
        "https://procurement.CUSTOMER.example/",
        """\
[buyer.cxml]
operation_allowed = "edit"
"""
        + _identity("NetworkID", "CUSTOMER-ID"),
    ),
}


def env_prefix(buyer_id: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", buyer_id.upper())


def starter_toml(buyer_id: str, system: str) -> str:
    """A commented buyers file for one new buyer of ``system``."""
    spec = SYSTEMS[system]
    env = env_prefix(buyer_id)
    body = spec.body.replace("{{", "\0").replace("}}", "\1")
    body = body.replace("{id}", buyer_id).replace("{ENV}", env)
    body = body.replace("\0", "{").replace("\1", "}")
    return f"""\
# Starter buyer file for {buyer_id!r} ({spec.title}), written by `punchgate buyers new`.
# Check it:   punchgate buyers validate THIS_FILE
# Prove it:   punchgate replay --buyers THIS_FILE fixtures/   (the folder written beside it)
# Then merge the [[buyer]] table into the buyers file you load (`punchgate buyers load`):
# the [supplier] below only makes this file valid on its own.

[supplier]
name = "Your company"
[[supplier.credential]]
domain = "NetworkID"
identity = "AN01000000099"

[[buyer]]
id = "{buyer_id}"
name = "{buyer_id} ({spec.title})"
# Where the buyer's system receives carts; confirm the exact URL with the buyer.
return_url_prefixes = ["{spec.return_prefix}"]
{body}
[buyer.provisioning]
# Users are created on their first punchout, with the role the buyer's system sends.
auto_create_users = true
default_role = "requester"
unknown_roles = "create"

[buyer.credentials]
# A replaced secret keeps working this many days, so both sides need not switch at once.
overlap_days = 7
"""


# Expectations that hold only for the demo buyer acme (its contract prices).
_ACME_ONLY = re.compile(r'^"NEW_ITEM-PRICE\[\d+\]" = .*\n', re.MULTILINE)


def _csv_field(line: str, index: int) -> str:
    import csv

    row = next(csv.reader([line]))
    return row[index] if index < len(row) else ""


def write_starter(buyer_id: str, system: str, directory: Path) -> list[Path]:
    """Write ``buyers.toml``, ``catalog.csv`` and ``fixtures/`` for the new buyer."""
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} exists and is not empty")
    spec = SYSTEMS[system]
    fixtures = directory / "fixtures"
    fixtures.mkdir(parents=True)
    written = [directory / "buyers.toml", directory / "catalog.csv"]
    written[0].write_text(starter_toml(buyer_id, system), encoding="utf-8")
    # The fixtures shop from the demo catalog (replay loads the catalog.csv beside the
    # buyers file), without the demo buyers' contract prices.
    demo = (FIXTURES / "demo" / "catalog.csv").read_text(encoding="utf-8").splitlines()
    header = demo[0].split(",")
    buyer_column = header.index("buyer_id")
    products = [demo[0]] + [line for line in demo[1:] if not _csv_field(line, buyer_column)]
    written[1].write_text("\n".join(products) + "\n", encoding="utf-8")
    for source in sorted((FIXTURES / spec.fixtures).iterdir()):
        text = source.read_text(encoding="utf-8")
        if source.name.endswith(".expect.toml"):
            text = text.replace('buyer = "acme"', f'buyer = "{buyer_id}"')
            text = _ACME_ONLY.sub("", text)
        target = fixtures / source.name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
