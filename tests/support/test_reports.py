"""Buyer health and adoption from snapshots: computed ahead, read by the pages, never staler
than PUNCHGATE_REPORT_MAX_AGE."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import update

from gateway import create_app
from gateway.cli import main
from gateway.models import ReportSnapshot, utcnow
from tests.conftest import SECRET_KEY
from tests.helpers import open_session, sign_in


def sessions_shown(page: str) -> int:
    return int(re.search(r"<dt>Sessions</dt><dd>(\d+)</dd>", page).group(1))


def test_pages_read_the_snapshot_until_it_is_too_old(agents, settings, monkeypatch):
    app = create_app(replace(settings, report_max_age=600))
    client = app.test_client()
    gateway = app.extensions["punchgate"]
    open_session(client, cookie="one")
    sign_in(client)
    first = client.get("/support/buyers/acme").get_data(as_text=True)
    assert sessions_shown(first) == 1 and "last 30 days, as of " in first
    open_session(client, cookie="two")
    # Within the age limit the page shows the snapshot (and says when it was computed).
    assert sessions_shown(client.get("/support/buyers/acme").get_data(as_text=True)) == 1
    health = client.get("/support/buyers").get_data(as_text=True)
    assert "riskiest first, as of " in health

    # The cron job brings it up to date.
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    r = CliRunner().invoke(main, ["reports", "refresh"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("buyer health, all buyers: ") and "adoption acme: " in r.output
    assert sessions_shown(client.get("/support/buyers/acme").get_data(as_text=True)) == 2

    # A snapshot past the age limit is computed again on the spot.
    open_session(client, cookie="three")
    with gateway.db.transaction() as db:
        db.execute(update(ReportSnapshot).values(computed_at=utcnow() - timedelta(hours=1)))
    assert sessions_shown(client.get("/support/buyers/acme").get_data(as_text=True)) == 3
    report = client.get("/support/buyers/acme/adoption").get_data(as_text=True)
    assert "last 12 months, as of " in report
