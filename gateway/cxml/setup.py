"""PunchOutSetupRequest: what the buyer asks for, and who the user is.

Children are looked up by name, not position, so requests that break the DTD's
element order (Coupa sends Contact before BrowserFormPost) are read as meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from gateway.cxml.envelope import child, children, text
from gateway.cxml.errors import NotAcceptable
from gateway.identity import Identity

OPERATIONS = ("create", "edit", "inspect")

# Extrinsic names buyer systems use for the person, highest priority first
# (Ariba, Coupa, Jaggaer, BuyerQuest, Business::cXML's mapping).
EMAIL_EXTRINSICS = ("UserEmail", "Email", "EmailAddress", "EMailAddress", "UserEmailAddress")
UNIQUE_NAME_EXTRINSICS = ("UniqueName", "UniqueUsername", "UserId", "UserID", "User", "UserName")
FULL_NAME_EXTRINSICS = ("UserFullName", "UserPrintableName", "FullName")
ROLE_EXTRINSICS = ("UserRole", "Role", "Roles")


@dataclass(frozen=True)
class ItemOut:
    supplier_part_id: str
    aux_id: str
    quantity: Decimal
    line_number: str | None = None


@dataclass(frozen=True)
class SetupRequest:
    operation: str
    buyer_cookie: str
    browser_form_post: str | None
    extrinsics: dict[str, str]
    contacts: tuple[dict, ...]
    selected_item: str | None
    items: tuple[ItemOut, ...]
    ship_to: dict | None
    supplier_setup_url: str | None

    def extrinsic(self, *names: str) -> str | None:
        for name in names:
            value = self.extrinsics.get(name.casefold())
            if value:
                return value
        return None


def _decimal(value: str, where: str) -> Decimal:
    try:
        result = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise NotAcceptable(f"{where} is not a number: {value!r}") from None
    if not result.is_finite() or result < 0:
        raise NotAcceptable(f"{where} must be a non-negative number, not {value!r}")
    return result


def _contact(el: etree._Element) -> dict:
    return {
        "role": el.get("role", ""),
        "name": text(child(el, "Name")),
        "email": text(child(el, "Email")),
    }


def _ship_to(el: etree._Element | None) -> dict | None:
    if el is None:
        return None
    address = child(el, "Address")
    postal = child(address, "PostalAddress")
    return {
        "address_id": address.get("addressID", "") if address is not None else "",
        "name": text(child(address, "Name")),
        "street": [text(s) for s in children(postal, "Street")] if postal is not None else [],
        "city": text(child(postal, "City")),
        "postal_code": text(child(postal, "PostalCode")),
        "country": (
            child(postal, "Country").get("isoCountryCode", "")
            if postal is not None and child(postal, "Country") is not None
            else ""
        ),
    }


def parse_setup_request(body: etree._Element) -> SetupRequest:
    """Read a PunchOutSetupRequest element; raises NotAcceptable naming what is wrong."""
    where = "PunchOutSetupRequest"
    operation = body.get("operation", "").strip()
    if operation == "source":
        raise NotAcceptable(f"{where}/@operation 'source' is not supported by this catalog")
    if operation not in OPERATIONS:
        raise NotAcceptable(
            f"{where}/@operation must be one of create, edit, inspect (got {operation!r})"
        )
    cookie_el = child(body, "BuyerCookie")
    if cookie_el is None:
        raise NotAcceptable(f"{where}/BuyerCookie is missing")
    # The cookie is opaque: echoed exactly, surrounding whitespace included
    # would break correlation, so only the outer whitespace is dropped.
    buyer_cookie = text(cookie_el)

    extrinsics: dict[str, str] = {}
    for el in children(body, "Extrinsic"):
        name = el.get("name", "").strip()
        if name:
            extrinsics[name.casefold()] = text(el)  # the last duplicate wins

    form_post = child(body, "BrowserFormPost")
    url = text(child(form_post, "URL")) if form_post is not None else ""
    supplier_setup = child(body, "SupplierSetup")

    selected = child(body, "SelectedItem")
    selected_sku = None
    if selected is not None:
        selected_sku = text(child(child(selected, "ItemID"), "SupplierPartID")) or None

    items = []
    for index, el in enumerate(children(body, "ItemOut"), start=1):
        item_id = child(el, "ItemID")
        # A line without SupplierPartID (service, free text) cannot go back into
        # the cart unless its SupplierPartAuxiliaryID is from an earlier cart:
        # the cart rebuild says so in the session log instead of refusing the punchout.
        sku = text(child(item_id, "SupplierPartID"))
        items.append(
            ItemOut(
                supplier_part_id=sku,
                aux_id=text(child(item_id, "SupplierPartAuxiliaryID")),
                quantity=_decimal(el.get("quantity", ""), f"{where}/ItemOut[{index}]/@quantity"),
                line_number=el.get("lineNumber"),
            )
        )
    return SetupRequest(
        operation=operation,
        buyer_cookie=buyer_cookie,
        browser_form_post=url or None,
        extrinsics=extrinsics,
        contacts=tuple(_contact(c) for c in children(body, "Contact")),
        selected_item=selected_sku,
        items=tuple(items),
        ship_to=_ship_to(child(body, "ShipTo")),
        supplier_setup_url=text(child(supplier_setup, "URL")) or None,
    )


def _looks_like_email(value: str | None) -> bool:
    return bool(value) and "@" in value and " " not in value.strip()


def user_identity(
    setup: SetupRequest, role_extrinsics: tuple[str, ...] = ROLE_EXTRINSICS
) -> Identity:
    """Who is punching out, from the Extrinsics and the Contact (role endUser first)."""
    contacts = sorted(setup.contacts, key=lambda c: c["role"] != "endUser")
    contact = contacts[0] if contacts else {"name": "", "email": "", "role": ""}
    source: dict[str, str] = {}

    email = setup.extrinsic(*EMAIL_EXTRINSICS)
    if email:
        source["email"] = "Extrinsic"
    elif contact["email"]:
        email, source["email"] = contact["email"], "Contact/Email"
    elif _looks_like_email(contact["name"]):
        # Coupa puts the email address in Contact/Name.
        email, source["email"] = contact["name"], "Contact/Name"

    unique_name = setup.extrinsic(*UNIQUE_NAME_EXTRINSICS)
    if unique_name:
        source["unique_name"] = "Extrinsic"

    name = setup.extrinsic(*FULL_NAME_EXTRINSICS)
    if not name:
        first = setup.extrinsic("FirstName") or ""
        last = setup.extrinsic("LastName") or ""
        name = f"{first} {last}".strip() or None
    if not name and contact["name"] and not _looks_like_email(contact["name"]):
        name = contact["name"]
    if not name:
        name = unique_name

    roles: list[str] = []
    for extrinsic in role_extrinsics:
        value = setup.extrinsic(extrinsic)
        if value:
            roles.extend(r.strip() for r in value.replace(";", ",").split(",") if r.strip())
    return Identity(
        email=email.strip().lower() if email else None,
        unique_name=unique_name,
        name=name,
        roles=tuple(dict.fromkeys(roles)),
        source=source,
    )
