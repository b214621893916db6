"""What an instance checks before it serves, and one-line errors at the command line."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from gateway.config import ConfigError, Settings
from gateway.instance import StartupRefused, check_keys, check_startup
from gateway.migrate import head_revision
from gateway.state import Gateway
from tests.conftest import ROOT, SECRET_KEY


def other(settings, **changes) -> Gateway:
    return Gateway.from_settings(dataclasses.replace(settings, **changes))


def test_keys_are_recorded_at_first_start_and_others_refused(gateway, settings):
    check_keys(gateway)
    check_keys(gateway)  # the same keys start again and again
    stranger = other(settings, secret_key="another-instance-generated-this-key")
    with pytest.raises(StartupRefused) as refused:
        check_startup(stranger)
    message = str(refused.value)
    assert message.startswith("PUNCHGATE_SECRET_KEY differs") and "\n" not in message
    assert "another-instance" not in message

    rotated = other(settings, encryption_keys=(Fernet.generate_key().decode(),))
    with pytest.raises(StartupRefused, match="^PUNCHGATE_ENCRYPTION_KEYS differs.*keys rotate"):
        check_startup(rotated)
    for g in (stranger, rotated):
        g.db.dispose()


def test_keys_rotate_makes_the_new_key_list_the_expected_one(gateway, settings, monkeypatch):
    from click.testing import CliRunner

    from gateway.cli import main

    check_keys(gateway)
    new = Fernet.generate_key().decode()
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("PUNCHGATE_ENCRYPTION_KEYS", new)
    r = CliRunner().invoke(main, ["keys", "rotate"])
    assert r.exit_code == 0, r.output
    check_startup(rotated := other(settings, encryption_keys=(new,)))
    with pytest.raises(StartupRefused, match="PUNCHGATE_ENCRYPTION_KEYS"):
        check_startup(gateway)  # the old list is refused from now on
    rotated.db.dispose()

    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", "not-the-recorded-secret-key")
    r = CliRunner().invoke(main, ["keys", "rotate"])
    assert r.exit_code == 1 and "PUNCHGATE_SECRET_KEY differs" in r.output


def test_a_server_database_needs_a_secret_key(tmp_path):
    env = {
        "PUNCHGATE_DATABASE_URL": "postgresql+psycopg://punchgate@db.example/punchgate",
        "PUNCHGATE_INSTANCE_DIR": str(tmp_path),
    }
    with pytest.raises(ConfigError, match="^PUNCHGATE_SECRET_KEY is not set"):
        Settings.from_env(env)
    assert not (tmp_path / "secret_key").exists()
    # SQLite stays the zero-configuration default: the key is kept in the instance folder.
    settings = Settings.from_env({"PUNCHGATE_INSTANCE_DIR": str(tmp_path)})
    assert (tmp_path / "secret_key").read_text() == settings.secret_key


@pytest.mark.parametrize(
    "url, words",
    [
        ("postgres://u@h/db", "scheme 'postgres' is not supported; use postgresql+psycopg://"),
        ("postgresql://u@h/db", "use postgresql+psycopg://"),
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "scheme 'mysql' is not supported"),
    ],
)
def test_unusable_database_urls_are_named(url, words):
    with pytest.raises(ConfigError, match="^PUNCHGATE_DATABASE_URL") as refused:
        Settings.from_env({"PUNCHGATE_DATABASE_URL": url, "PUNCHGATE_SECRET_KEY": "k" * 20})
    assert words in str(refused.value)


def punchgate(*args: str, env: dict[str, str], timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env={**os.environ, "PUNCHGATE_SECRET_KEY": SECRET_KEY, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def bad_urls() -> list[str]:
    urls = [
        "postgres://postgres@127.0.0.1:5432/punchgate",
        "not a url",
        # Nothing listens on port 9: the connection is refused.
        "postgresql+psycopg://postgres@127.0.0.1:9/punchgate?connect_timeout=3",
    ]
    server = os.environ.get("PUNCHGATE_TEST_DATABASE_URL")
    if server:
        unknown = make_url(server).set(database="no_such_database_i13")
        urls.append(unknown.render_as_string(hide_password=False))
    return urls


@pytest.mark.parametrize("url", bad_urls())
@pytest.mark.parametrize(
    "command", [["db", "upgrade"], ["serve", "--port", "9"], ["orders", "list"]]
)
def test_a_bad_database_url_is_a_short_error_not_a_traceback(url, command, tmp_path):
    r = punchgate(
        *command, env={"PUNCHGATE_DATABASE_URL": url, "PUNCHGATE_INSTANCE_DIR": str(tmp_path)}
    )
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, r.stderr
    assert "PUNCHGATE_DATABASE_URL" in r.stderr or "database" in r.stderr


def test_serve_refuses_a_database_that_is_not_migrated(tmp_path):
    r = punchgate(
        "serve",
        "--port",
        "9",
        env={"PUNCHGATE_DATABASE_URL": f"sqlite:///{tmp_path}/new.db"},
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"Error: database schema is at revision none, this version needs {head_revision()}: "
        "run `punchgate db upgrade`"
    ]


def test_a_worker_booting_during_an_outage_serves_once_the_master_checked():
    """gunicorn stops the whole server when a worker exits with code 3; a worker recycled
    (max_requests) while the database blips must not take every worker down with it."""
    from gateway.observability.gunicorn import MASTER_CHECKED
    from tests.conftest import ROOT

    env = {
        **os.environ,
        "PUNCHGATE_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/down",
        "PUNCHGATE_SECRET_KEY": "k" * 40,
    }
    env.pop(MASTER_CHECKED, None)
    boot = [sys.executable, "-c", "import wsgi"]
    alone = subprocess.run(boot, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert alone.returncode == 3 and "punchgate: database unreachable" in alone.stderr
    checked = subprocess.run(
        boot, cwd=ROOT, env={**env, MASTER_CHECKED: "1"}, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
    assert "worker started while the database unreachable" in checked.stderr
