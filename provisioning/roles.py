"""Role permissions the gateway enforces: visible categories, prices, order value limit.

``[buyer.roles.<role>]`` configures a role. A role without configuration sees the
whole catalog with prices and has no limit. A role the gateway creates on the
spot (``unknown_roles = "create"``) gets the buyer's ``new_role_template``,
least privilege by default: no category, no prices, no ordering. A user with
several roles gets the most generous combination of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

LEAST_PRIVILEGE = {"categories": [], "show_prices": False, "max_order_value": "0"}


@dataclass(frozen=True)
class Permissions:
    categories: frozenset[str] | None  # None: every category
    show_prices: bool
    max_order_value: Decimal | None  # None: no limit

    def sees(self, category: str | None) -> bool:
        return self.categories is None or (category in self.categories)


EVERYTHING = Permissions(None, True, None)


def role_config(buyer_settings: dict, role: str) -> dict | None:
    roles = buyer_settings.get("roles") or {}
    if role in roles:
        return roles[role]
    created = buyer_settings.get("created_roles") or {}
    return created.get(role)


def permissions(buyer_settings: dict, roles: list[str]) -> Permissions:
    if not roles:
        return EVERYTHING
    categories: set[str] | None = set()
    show_prices = False
    limit: Decimal | None = Decimal(0)
    for role in roles:
        config = role_config(buyer_settings, role)
        if config is None:
            return EVERYTHING
        if categories is not None:
            if config.get("categories") is None:
                categories = None
            else:
                categories |= set(config["categories"])
        show_prices = show_prices or config.get("show_prices", True)
        value = config.get("max_order_value")
        if value is None:
            limit = None
        elif limit is not None:
            limit = max(limit, Decimal(str(value)))
    return Permissions(None if categories is None else frozenset(categories), show_prices, limit)


def check_role_config(config: dict, where: str) -> dict:
    """Validate one role's table; return it normalised (raises ValueError naming the key)."""
    allowed = {"categories", "show_prices", "max_order_value"}
    for key in config:
        if key not in allowed:
            raise ValueError(f"unknown key '{where}.{key}'")
    if "categories" in config and not (
        isinstance(config["categories"], list)
        and all(isinstance(c, str) for c in config["categories"])
    ):
        raise ValueError(f"{where}.categories must be a list of category names")
    if "show_prices" in config and not isinstance(config["show_prices"], bool):
        raise ValueError(f"{where}.show_prices must be true or false")
    if "max_order_value" in config:
        try:
            value = Decimal(str(config["max_order_value"]))
        except InvalidOperation:
            raise ValueError(f"{where}.max_order_value must be an amount") from None
        if not value.is_finite() or value < 0:
            raise ValueError(f"{where}.max_order_value must be a non-negative amount")
        config = {**config, "max_order_value": str(value)}
    return config
