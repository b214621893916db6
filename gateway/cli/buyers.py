"""``punchgate buyers``: supplier and buyer connections."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import func, select

from gateway.cli.output import (
    Column,
    echo_json,
    echo_table,
    fail,
    json_option,
    limit_option,
    open_gateway,
    require,
)

BUYER_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def buyers() -> None:
    """Supplier and buyer connections (the buyers TOML file).

    \b
    Examples:
      punchgate buyers validate buyers.toml
      punchgate buyers load buyers.toml
      punchgate buyers show acme --json
    """


def _problems(path: Path, problems, err: bool) -> None:
    """One line per problem, as compilers print them: FILE:LINE: level: buyer: message."""
    for p in problems:
        where = f"{path}:{p.line}" if p.line else str(path)
        who = f"{p.who}: " if p.who else ""
        click.echo(f"{where}: {'warning' if p.warning else 'error'}: {who}{p.message}", err=err)


@buyers.command("validate")
@click.argument("path", type=BUYER_FILE)
@json_option
def buyers_validate(path: Path, as_json: bool) -> None:
    """Check a buyers file without loading it: every problem at once, with its line.

    Exits 1 when there is an error; warnings (weak settings) alone exit 0.

    \b
    Example:
      punchgate buyers validate buyers.toml
    """
    from provisioning.buyer_file import check_config

    config = check_config(path.read_text(encoding="utf-8"))
    if as_json:
        echo_json(
            {
                "file": str(path),
                "buyers": [s.id for s in config.specs],
                "errors": len(config.errors),
                "warnings": len(config.warnings),
                "problems": [p.as_dict() for p in config.problems],
            }
        )
    else:
        _problems(path, config.problems, err=False)
        click.echo(
            f"{path}: {len(config.specs)} buyer(s), {len(config.errors)} error(s), "
            f"{len(config.warnings)} warning(s)"
        )
    if config.errors:
        raise SystemExit(1)


@buyers.command("load")
@click.argument("path", type=BUYER_FILE)
def buyers_load(path: Path) -> None:
    """Upsert the supplier and buyers from a TOML file (idempotent, all or nothing).

    The file is validated first (as ``buyers validate``); with any error nothing is loaded.

    \b
    Example:
      punchgate buyers load buyers.toml
    """
    from provisioning.buyer_file import check_config
    from provisioning.buyers import ConfigError, load_buyers

    config = check_config(path.read_text(encoding="utf-8"))
    _problems(path, config.problems, err=True)
    if config.errors:
        fail(f"{path}: {len(config.errors)} error(s); nothing loaded")
    gateway = open_gateway()
    try:
        with gateway.db.transaction() as session:
            ids = load_buyers(session, path, gateway.box)
    except ConfigError as exc:
        _problems(path, exc.problems, err=True)
        fail(f"{path}: {len(exc.problems)} error(s); nothing loaded")
    click.echo(f"loaded {len(ids)} buyer(s): {', '.join(ids) or '-'}")


@buyers.command("new")
@click.argument("buyer_id")
@click.option(
    "--system",
    required=True,
    type=click.Choice(["ariba", "coupa", "jaggaer", "oracle", "sap-oci", "generic"]),
    help="The buyer's procurement system: its known quirks are preset.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write (default: ./ID/).",
)
def buyers_new(buyer_id: str, system: str, directory: Path | None) -> None:
    """Write a commented starter buyer file for SYSTEM and fixtures that replay against it.

    \b
    Example:
      punchgate buyers new initrode --system coupa
      export INITRODE_SHARED_SECRET=...   # agreed with the buyer
      punchgate replay --buyers initrode/buyers.toml initrode/fixtures
    """
    from provisioning.buyer_file import BUYER_ID
    from provisioning.starters import env_prefix, write_starter

    if not BUYER_ID.match(buyer_id):
        fail(f"{buyer_id!r} is not a buyer id: a lower-case slug (a-z, 0-9, - and _)")
    directory = directory or Path(buyer_id)
    try:
        written = write_starter(buyer_id, system, directory)
    except FileExistsError as exc:
        fail(str(exc))
    click.echo(f"wrote {written[0]}, {written[1]} and {len(written) - 2} fixture file(s)")
    secret = "OCI_PASSWORD" if system == "sap-oci" else "SHARED_SECRET"
    click.echo("next:")
    click.echo(f"  export {env_prefix(buyer_id)}_{secret}=...   # agreed with the buyer")
    click.echo(f"  punchgate buyers validate {written[0]}")
    click.echo(f"  punchgate replay --buyers {written[0]} {directory / 'fixtures'}")


def _buyer_row(buyer, users: int, sessions: int) -> dict:
    settings = buyer.settings or {}
    protocols = [p for p in ("cxml", "oci") if _has(buyer, p)]
    return {
        "id": buyer.id,
        "name": buyer.name,
        "protocols": protocols,
        "cxml_version": (settings.get("cxml") or {}).get("version"),
        "return_url_prefixes": buyer.return_url_prefixes,
        "users": users,
        "sessions": sessions,
        "updated_at": buyer.updated_at.isoformat(timespec="seconds"),
    }


def _has(buyer, protocol: str) -> bool:
    kinds = {c.kind for c in buyer.credentials}
    return "sender" in kinds if protocol == "cxml" else "oci" in kinds


def _counts(db, model) -> dict[str, int]:
    return dict(db.execute(select(model.buyer_id, func.count()).group_by(model.buyer_id)).all())


@buyers.command("list")
@limit_option
@json_option
def buyers_list(limit: int, as_json: bool) -> None:
    """Every buyer with its protocols, users and sessions.

    \b
    Example:
      punchgate buyers list --json
    """
    from gateway.models import Buyer, PunchoutSession, User

    with open_gateway().db.transaction() as db:
        users, sessions = _counts(db, User), _counts(db, PunchoutSession)
        rows = [
            _buyer_row(b, users.get(b.id, 0), sessions.get(b.id, 0))
            for b in db.scalars(select(Buyer).order_by(Buyer.id).limit(limit))
        ]
    echo_table(
        rows,
        [
            Column("ID", "id"),
            Column("NAME", "name"),
            Column("PROTOCOLS", lambda r: ",".join(r["protocols"])),
            Column("USERS", "users", right=True),
            Column("SESSIONS", "sessions", right=True),
            Column("UPDATED", "updated_at"),
        ],
        empty="no buyers (load some with: punchgate buyers load FILE.toml)",
        as_json=as_json,
    )


@buyers.command("show")
@click.argument("buyer_id")
@json_option
def buyers_show(buyer_id: str, as_json: bool) -> None:
    """One buyer: its settings (no secrets), identities, credentials and roles.

    \b
    Example:
      punchgate buyers show acme
    """
    from gateway.models import Buyer, PunchoutSession, User
    from provisioning.rotation import credential_report

    with open_gateway().db.transaction() as db:
        buyer = require(db, Buyer, buyer_id, "buyer")
        users = db.scalar(select(func.count()).where(User.buyer_id == buyer.id))
        sessions = db.scalar(select(func.count()).where(PunchoutSession.buyer_id == buyer.id))
        info = _buyer_row(buyer, users, sessions)
        info["from"] = [f"{c.domain}/{c.identity}" for c in buyer.credentials if c.kind == "from"]
        info["credentials"] = [r for r in credential_report(db) if r["buyer"] == buyer.id]
        settings = dict(buyer.settings or {})
        info["roles"] = sorted({**settings.pop("created_roles", {}), **settings.get("roles", {})})
        info["settings"] = settings
    if as_json:
        echo_json(info)
        return
    click.echo(f"buyer {info['id']}  {info['name']}  ({', '.join(info['protocols']) or '-'})")
    click.echo(f"return URL prefixes: {', '.join(info['return_url_prefixes']) or '-'}")
    click.echo(f"From identities: {', '.join(info['from']) or '-'}")
    click.echo(f"users {info['users']}, sessions {info['sessions']}")
    click.echo(f"roles: {', '.join(info['roles']) or '-'}")
    click.echo("")
    echo_table(
        info["credentials"],
        [
            Column("KIND", "kind"),
            Column("IDENTITY", "identity"),
            Column("STATE", "state"),
            Column("LAST USED", lambda r: r["last_used_at"] or "never"),
        ],
        empty="no credentials",
    )


@buyers.command("credentials")
@click.option(
    "--stale",
    is_flag=True,
    help="Only replaced secrets still in use, for support to call the buyer.",
)
@click.option("--buyer", "buyer_id", help="Only this buyer's credentials.")
@limit_option
@json_option
def buyers_credentials(stale: bool, buyer_id: str | None, limit: int, as_json: bool) -> None:
    """Credentials per buyer: current, replaced (and until when), last used.

    \b
    Example:
      punchgate buyers credentials --stale
    """
    from gateway.models import Buyer
    from provisioning.rotation import credential_report

    gateway = open_gateway()
    with gateway.db.transaction() as db:
        if buyer_id:
            require(db, Buyer, buyer_id, "buyer")
        rows = [
            r
            for r in credential_report(db, stale_only=stale)
            if buyer_id is None or r["buyer"] == buyer_id
        ][:limit]
    echo_table(
        rows,
        [
            Column("BUYER", "buyer", 12),
            Column("KIND", "kind", 7),
            Column("IDENTITY", "identity", 32),
            Column("STATE", "state", 34),
            Column("LAST USED", lambda r: r["last_used_at"] or "never"),
        ],
        empty="no stale credentials" if stale else "no credentials",
        as_json=as_json,
    )
