"""The inbound OCI call: login aliases, HOOK_URL, ~ parameters, FUNCTION, the person."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from gateway.ranges import MAX_QUANTITY

USERNAME_FIELDS = ("USERNAME", "LOGIN", "LOGINNAME", "~USERNAME", "USER_ID", "USER", "CID")
PASSWORD_FIELDS = ("PASSWORD", "~PASSWORD", "PASS", "PWD", "TOKEN")
EMAIL_FIELDS = ("EMAIL", "USER_EMAIL", "USEREMAIL", "~EMAIL", "E_MAIL", "MAIL")
NAME_FIELDS = ("FULLNAME", "USER_NAME", "USERFULLNAME", "NAME")
FIRST_NAME_FIELDS = ("FIRST_NAME", "FIRSTNAME")
LAST_NAME_FIELDS = ("LAST_NAME", "LASTNAME")
UNIQUE_NAME_FIELDS = ("SY-UNAME", "UNAME", "SAP_USER", "USERID")
ROLE_FIELDS = ("ROLE", "ROLES", "USER_ROLE")
FUNCTIONS = ("DETAIL", "VALIDATE", "SOURCING", "BACKGROUND_SEARCH")


class OciCallError(ValueError):
    """The call cannot be served; ``field`` names the parameter at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class CallOptions:
    """Per-buyer parameter names; SAP lets each customer rename them."""

    hook_url_field: str = "HOOK_URL"
    username_fields: tuple[str, ...] = USERNAME_FIELDS
    password_fields: tuple[str, ...] = PASSWORD_FIELDS
    email_fields: tuple[str, ...] = EMAIL_FIELDS
    unique_name_fields: tuple[str, ...] = UNIQUE_NAME_FIELDS
    role_fields: tuple[str, ...] = ROLE_FIELDS
    # SRM 7: VALIDATE comes server to server without HOOK_URL and is answered directly.
    validate_without_hook: bool = False

    @classmethod
    def from_settings(cls, oci: Mapping, validate_direct: bool = False) -> CallOptions:
        def names(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
            value = oci.get(key)
            return tuple(value) if value else default

        return cls(
            hook_url_field=oci.get("hook_url_field") or "HOOK_URL",
            username_fields=names("username_fields", USERNAME_FIELDS),
            password_fields=names("password_fields", PASSWORD_FIELDS),
            email_fields=names("user_fields", EMAIL_FIELDS),
            unique_name_fields=names("unique_name_fields", UNIQUE_NAME_FIELDS),
            role_fields=names("role_fields", ROLE_FIELDS),
            validate_without_hook=validate_direct,
        )


@dataclass(frozen=True)
class OciCall:
    username: str | None
    password: str | None = field(repr=False)
    hook_url: str
    function: str | None
    unknown_function: str | None
    product_id: str | None
    quantity: Decimal | None
    search_string: str | None
    echo: tuple[tuple[str, str], ...]  # ~OkCode, ~TARGET, ~CALLER and every other ~ parameter
    target: str
    cancel_url: str | None  # OCICANCEL (IFS): where "Cancel and return" goes
    email: str | None
    unique_name: str | None
    name: str | None
    roles: tuple[str, ...]
    parameter_names: tuple[str, ...]  # for the log; values may be secret


def _first(params: Mapping[str, str], names: Iterable[str]) -> str | None:
    for name in names:
        value = params.get(name.upper())
        if value is not None and value.strip():
            return value.strip()
    return None


def parse_call(pairs: Iterable[tuple[str, str]], options: CallOptions = CallOptions()) -> OciCall:
    """Read an OCI call from its query or form parameters (names case-insensitive)."""
    pairs = list(pairs)
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name.upper(), value)
    hook_url = _first(params, [options.hook_url_field])
    function = (params.get("FUNCTION") or "").strip().upper() or None
    if not hook_url and not (function == "VALIDATE" and options.validate_without_hook):
        raise OciCallError(
            f"the {options.hook_url_field} parameter is missing: the catalog cannot know where "
            "to send the cart",
            options.hook_url_field,
        )
    hook_url = hook_url or ""
    unknown = None
    if function and function not in FUNCTIONS:
        unknown, function = function, None
    product_id = _first(params, ["PRODUCTID"])
    search = _first(params, ["SEARCHSTRING"])
    quantity = None
    if function in ("DETAIL", "VALIDATE") and not product_id:
        raise OciCallError(f"FUNCTION={function} needs a PRODUCTID parameter", "PRODUCTID")
    if function in ("SOURCING", "BACKGROUND_SEARCH") and not search:
        raise OciCallError(f"FUNCTION={function} needs a SEARCHSTRING parameter", "SEARCHSTRING")
    if function == "VALIDATE":
        raw = _first(params, ["QUANTITY"]) or "1"
        try:
            quantity = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            raise OciCallError(f"QUANTITY {raw!r} is not a number", "QUANTITY") from None
        if not quantity.is_finite() or quantity <= 0 or quantity > MAX_QUANTITY:
            raise OciCallError(
                f"QUANTITY {raw[:40]!r} must be more than 0 and at most {MAX_QUANTITY}",
                "QUANTITY",
            )
    echo = tuple(
        (name, value)
        for name, value in pairs
        if name.startswith("~")
        and name.upper() not in {f.upper() for f in options.password_fields}
        and name.upper() not in {f.upper() for f in options.username_fields}
    )
    target = next((v for n, v in echo if n.upper() == "~TARGET" and v.strip()), "_top")
    first = _first(params, FIRST_NAME_FIELDS) or ""
    last = _first(params, LAST_NAME_FIELDS) or ""
    name = _first(params, NAME_FIELDS) or f"{first} {last}".strip() or None
    roles_raw = _first(params, options.role_fields) or ""
    email = _first(params, options.email_fields)
    return OciCall(
        username=_first(params, options.username_fields),
        password=_first(params, options.password_fields),
        hook_url=hook_url,
        function=function,
        unknown_function=unknown,
        product_id=product_id,
        quantity=quantity,
        search_string=search,
        echo=echo,
        target=target,
        cancel_url=_first(params, ["OCICANCEL"]),
        email=email.lower() if email else None,
        unique_name=_first(params, options.unique_name_fields),
        name=name,
        roles=tuple(r.strip() for r in roles_raw.replace(";", ",").split(",") if r.strip()),
        parameter_names=tuple(dict.fromkeys(n for n, _ in pairs)),
    )


def oci_secret_fields(buyer) -> set[str]:
    """The password fields a buyer's SAP system renamed (``[buyer.oci] password_fields``)."""
    oci = (buyer.settings.get("oci") or {}) if buyer is not None else {}
    return set(oci.get("password_fields") or ())
