"""``punchgate users`` and ``punchgate roles``: the people at buyers and their rights."""

from __future__ import annotations

import click
from sqlalchemy import or_, select

from gateway.cli.output import (
    Column,
    echo_json,
    echo_table,
    fail,
    json_option,
    limit_option,
    open_gateway,
    require,
    since_option,
)


def require_user(db, user: str, buyer: str | None = None):
    """The user with this id, email or unique name (within a buyer), or an error naming it."""
    from gateway.models import User

    stmt = select(User)
    if user.isdigit():
        stmt = stmt.where(User.id == int(user))
    else:
        stmt = stmt.where(or_(User.email == user.lower(), User.unique_name == user))
    if buyer:
        stmt = stmt.where(User.buyer_id == buyer)
    found = list(db.scalars(stmt.limit(20)))
    if not found:
        fail(f"no user {user!r}" + (f" at buyer {buyer!r}" if buyer else ""))
    if len(found) > 1 and not user.isdigit() and buyer is None:
        buyers = ", ".join(sorted({u.buyer_id for u in found}))
        fail(f"user {user!r} exists at several buyers ({buyers}); add --buyer")
    return found[0]


def _user_row(u) -> dict:
    return {
        "id": u.id,
        "buyer": u.buyer_id,
        "email": u.email,
        "unique_name": u.unique_name,
        "name": u.name,
        "roles": list(u.roles or []),
        "created_at": u.created_at.isoformat(timespec="seconds"),
        "last_seen_at": u.last_seen_at.isoformat(timespec="seconds") if u.last_seen_at else None,
    }


@click.group()
def users() -> None:
    """Users at buyers, as their procurement systems identified them.

    \b
    Examples:
      punchgate users list --buyer acme --role requester
      punchgate users show jane.doe@acme.example --json
    """


@users.command("list")
@click.option("--buyer", help="Buyer id.")
@click.option("--role", help="Only users with this role (one the buyer knows).")
@since_option
@limit_option
@json_option
def users_list(buyer, role, since, limit, as_json) -> None:
    """Users, most recently seen first.

    \b
    Example:
      punchgate users list --buyer acme --since 7d
    """
    from gateway.models import Buyer, User
    from gateway.support.users import known_roles

    with open_gateway().db.transaction() as db:
        stmt = select(User).order_by(User.last_seen_at.desc().nulls_last(), User.id.desc())
        if buyer:
            known = require(db, Buyer, buyer, "buyer")
            stmt = stmt.where(User.buyer_id == buyer)
            if role and role not in known_roles(known):
                fail(f"no role {role!r} at buyer {buyer!r}")
        elif role and not any(role in known_roles(b) for b in db.scalars(select(Buyer))):
            fail(f"no role {role!r} at any buyer")
        if since:
            stmt = stmt.where(User.last_seen_at >= since)
        # Roles are a JSON list: filtered here, which is fine for the users of a buyer.
        rows = [_user_row(u) for u in db.scalars(stmt.limit(limit if not role else 10_000))]
    if role:
        rows = [r for r in rows if role in r["roles"]][:limit]
    echo_table(
        rows,
        [
            Column("ID", "id", right=True),
            Column("BUYER", "buyer"),
            Column("EMAIL", "email"),
            Column("UNIQUE NAME", "unique_name"),
            Column("ROLES", lambda r: ",".join(r["roles"])),
            Column("LAST SEEN", "last_seen_at"),
        ],
        empty="no users",
        as_json=as_json,
    )


@users.command("show")
@click.argument("user")
@click.option("--buyer", help="Buyer id, when the email is known at several buyers.")
@json_option
def users_show(user: str, buyer: str | None, as_json: bool) -> None:
    """One user (by id, email or unique name), with the permissions their roles give.

    \b
    Example:
      punchgate users show jane.doe@acme.example
    """
    from gateway.models import Buyer
    from provisioning.roles import permissions

    with open_gateway().db.transaction() as db:
        if buyer:
            require(db, Buyer, buyer, "buyer")
        u = require_user(db, user, buyer)
        info = _user_row(u)
        granted = permissions(db.get(Buyer, u.buyer_id).settings or {}, info["roles"])
        info["permissions"] = _permissions(granted)
    if as_json:
        echo_json(info)
        return
    click.echo(f"user {info['id']}  buyer {info['buyer']}  {info['email'] or '-'}")
    click.echo(f"unique name {info['unique_name'] or '-'}  name {info['name'] or '-'}")
    click.echo(f"roles: {', '.join(info['roles']) or '-'}")
    p = info["permissions"]
    click.echo(
        f"sees {', '.join(p['categories']) if p['categories'] is not None else 'every category'}"
        f"; prices {'shown' if p['show_prices'] else 'hidden'}"
        f"; order limit {p['max_order_value'] or 'none'}"
    )
    click.echo(f"created {info['created_at']}  last seen {info['last_seen_at'] or 'never'}")


def _permissions(p) -> dict:
    return {
        "categories": None if p.categories is None else sorted(p.categories),
        "show_prices": p.show_prices,
        "max_order_value": None if p.max_order_value is None else str(p.max_order_value),
    }


@click.group()
def roles() -> None:
    """Roles of a buyer: configured in the buyers file, or created on the spot.

    \b
    Examples:
      punchgate roles list --buyer acme
      punchgate roles show requester --buyer acme --json
    """


def _role_rows(buyer) -> list[dict]:
    settings = buyer.settings or {}
    rows = []
    for origin, table in (
        ("file", settings.get("roles") or {}),
        ("created", settings.get("created_roles") or {}),
    ):
        for name, cfg in sorted(table.items()):
            rows.append(
                {
                    "buyer": buyer.id,
                    "role": name,
                    "origin": origin,
                    "categories": cfg.get("categories"),
                    "show_prices": cfg.get("show_prices", True),
                    "max_order_value": cfg.get("max_order_value"),
                }
            )
    return rows


@roles.command("list")
@click.option("--buyer", "buyer_id", required=True, help="Buyer id.")
@limit_option
@json_option
def roles_list(buyer_id: str, limit: int, as_json: bool) -> None:
    """A buyer's roles and what each one allows.

    \b
    Example:
      punchgate roles list --buyer acme
    """
    from gateway.models import Buyer

    with open_gateway().db.transaction() as db:
        rows = _role_rows(require(db, Buyer, buyer_id, "buyer"))[:limit]
    if as_json:
        echo_json(rows)
        return
    echo_table(rows, _ROLE_COLUMNS, empty=f"buyer {buyer_id} has no configured roles")


_ROLE_COLUMNS = [
    Column("ROLE", "role"),
    Column("ORIGIN", "origin"),
    Column(
        "CATEGORIES",
        lambda r: "all" if r["categories"] is None else ",".join(r["categories"]) or "none",
    ),
    Column("PRICES", lambda r: "shown" if r["show_prices"] else "hidden"),
    Column("LIMIT", lambda r: r["max_order_value"] or "none"),
]


@roles.command("show")
@click.argument("role")
@click.option("--buyer", "buyer_id", required=True, help="Buyer id.")
@json_option
def roles_show(role: str, buyer_id: str, as_json: bool) -> None:
    """One role of a buyer.

    \b
    Example:
      punchgate roles show requester --buyer acme --json
    """
    from gateway.models import Buyer

    with open_gateway().db.transaction() as db:
        rows = [r for r in _role_rows(require(db, Buyer, buyer_id, "buyer")) if r["role"] == role]
    if not rows:
        fail(f"no role {role!r} at buyer {buyer_id!r}")
    if as_json:
        echo_json(rows[0])
        return
    echo_table(rows, _ROLE_COLUMNS, empty="")
