"""``punchgate buyers check ID``: the certification run of one buyer's profile."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.output import echo_json, fail, json_option, open_gateway


@click.command("check")
@click.argument("buyer_id")
@click.option(
    "--fixtures",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The buyer's own fixtures (default: the preset's folder in fixtures/).",
)
@json_option
def check(buyer_id: str, fixtures: Path | None, as_json: bool) -> None:
    """Replay fixtures and a full cart through an isolated gateway; exit 1 on any failure.

    \b
    Example:
      punchgate buyers check acme --json
    """
    from gateway.profiles.certify import CertifyError, certify

    try:
        report = certify(open_gateway(), buyer_id, fixtures)
    except CertifyError as exc:
        fail(str(exc))
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(report.text())
    if not report.ok:
        raise SystemExit(1)
