"""The installed ``punchgate`` as an integration engineer runs it (subprocesses, real database).

Conventions: --version, --help with an example everywhere, --json on every list and show,
click choices, unknown ids are errors (exit 1), one-line errors without tracebacks.

Each behaviour is shown through the installed command (a subprocess); the walks over
every noun use click's runner on the same command group, because one Python start per
row would make the suite slow for nothing the subprocess calls do not already show.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from gateway.cli import main
from gateway.models import Base
from tests.conftest import (
    DEMO,
    ROOT,
    SECRET_KEY,
    demo_buyers_with,
    remember_secret,
    scan,
    write_buyers,
)
from tests.helpers import open_session
from tests.test_buyer_file import FIVE_MISTAKES

PUNCHGATE = Path(sys.executable).parent / "punchgate"


def punchgate(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "PUNCHGATE_DATABASE_URL": database_url,
        "PUNCHGATE_SECRET_KEY": SECRET_KEY,
        # The checkout under test, whichever copy the virtualenv was installed from.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **env,
    }
    if "PUNCHGATE_DEBUG" not in env:
        environ.pop("PUNCHGATE_DEBUG", None)
    done = subprocess.run(
        [str(PUNCHGATE), *args], capture_output=True, text=True, env=environ, timeout=120
    )
    scan(f"punchgate {' '.join(args)}", done.stdout + done.stderr)
    return done


@pytest.fixture
def pg(database_url):
    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        return punchgate(*args, database_url=database_url, **env)

    return run


@pytest.fixture
def cli(monkeypatch, database_url):
    """The same command group in process: (exit code, stdout, stderr)."""
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    monkeypatch.delenv("PUNCHGATE_DEBUG", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(main, list(args))
        scan(f"punchgate {' '.join(args)}", result.output)
        return result.exit_code, result.stdout, result.stderr

    return run


def _commands(group, path=()):
    """Every command's path ("sessions", "list"), groups walked into."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


def test_version_and_help_with_examples(pg, cli):
    version = pg("--version")
    assert version.returncode == 0 and version.stdout.startswith("punchgate, version ")
    top = pg("--help").stdout
    assert "Exit codes: 0 success, 1 error" in top and "_PUNCHGATE_COMPLETE" in top

    walked = list(_commands(main))
    assert len(walked) >= 29
    for path in walked:
        code, out, _ = cli(*path, "--help")
        assert code == 0 and "Example" in out, path
        if path[-1] in ("list", "show"):
            assert "--json" in out, path
    nouns = {p[0] for p in walked if p[-1] == "list"} & {p[0] for p in walked if p[-1] == "show"}
    assert {
        "buyers", "users", "roles", "sessions", "requests", "orders", "outbox", "agents", "alerts"
    } <= nouns  # fmt: skip


def test_every_group_help_shows_an_example(cli):
    groups = [(name,) for name, command in main.commands.items() if hasattr(command, "commands")]
    assert {("alerts",), ("catalog",), ("keys",), ("db",), ("marketplace",)} <= set(groups)
    for path in groups:
        code, out, _ = cli(*path, "--help")
        assert code == 0 and "Example" in out and f"punchgate {path[0]} " in out, path


def test_every_list_takes_a_limit(cli, demo, tmp_path):
    roles = '[buyer.roles.buyer]\nmax_order_value = "5000"\n[buyer.roles.viewer]\n'
    write_buyers(demo, tmp_path, demo_buyers_with(roles))
    for path in _commands(main):
        if path[-1] == "list" or path == ("buyers", "credentials"):
            assert "--limit" in cli(*path, "--help")[1], path
    assert [b["id"] for b in json.loads(cli("buyers", "list", "--limit", "2", "--json")[1])] == [
        "acme",
        "globex",
    ]
    assert len(json.loads(cli("roles", "list", "--buyer", "acme", "--json")[1])) == 2
    assert (
        len(json.loads(cli("roles", "list", "--buyer", "acme", "--limit", "1", "--json")[1])) == 1
    )
    assert json.loads(cli("agents", "list", "--limit", "1", "--json")[1]) == []
    code, _, err = cli("buyers", "list", "--limit", "0")
    assert code == 2 and "0 is not in the range" in err


def test_unknown_ids_are_errors_naming_them(pg, cli, demo):
    done = pg("sessions", "list", "--buyer", "no-such-buyer")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "Error: no buyer 'no-such-buyer'\n"
    for args, words in [
        (("sessions", "list", "--buyer", "no-such-buyer"), "no buyer 'no-such-buyer'"),
        (("sessions", "list", "--user", "nobody@acme.example"), "no user 'nobody@acme.example'"),
        (("sessions", "show", "999999"), "no session 999999"),
        (("orders", "list", "--buyer", "nope"), "no buyer 'nope'"),
        (("buyers", "show", "nope"), "no buyer 'nope'"),
        (("users", "show", "nobody@acme.example"), "no user 'nobody@acme.example'"),
        (("roles", "list", "--buyer", "nope"), "no buyer 'nope'"),
        (("roles", "show", "chief", "--buyer", "acme"), "no role 'chief' at buyer 'acme'"),
        (("outbox", "show", "424242"), "no outbox message 424242"),
        (("agents", "show", "ghost@supplier.example"), "no agent 'ghost@supplier.example'"),
        (
            ("users", "list", "--buyer", "acme", "--role", "chief"),
            "no role 'chief' at buyer 'acme'",
        ),
        (("users", "list", "--role", "chief"), "no role 'chief' at any buyer"),
        (("alerts", "list", "--buyer", "nope"), "no buyer 'nope'"),
    ]:
        code, out, err = cli(*args)
        assert code == 1 and out == "" and err == f"Error: {words}\n", (args, out, err)


def test_choices_are_checked_by_click(pg, cli):
    done = pg("sessions", "list", "--status", "finished")
    assert done.returncode == 2
    assert "'finished' is not one of 'open', 'transferred', 'ordered'" in done.stderr
    assert cli("outbox", "list", "--status", "lost")[0] == 2
    code, _, err = cli("orders", "list", "--since", "soon")
    assert code == 2 and "not 30m, 2h, 7d or an ISO date" in err
    done = pg("orders", "list", "--status", "lost")
    assert done.returncode == 2 and done.stdout == ""
    assert "'lost' is not one of 'received', 'accepted', 'pending', 'rejected'" in done.stderr
    code, _, err = cli("requests", "list", "--type", "OrderReqest")
    assert code == 2 and "'OrderReqest' is not one of 'PunchOutSetupRequest', 'OrderRequest'" in err
    assert "'OCI call'" in err
    code, _, err = cli("requests", "list", "--channel", "ftp")
    assert code == 2 and "'cxml', 'oci', 'session_api', 'sync_api', 'marketplace'" in err


def test_unexpected_errors_are_one_line_unless_debugging(pg):
    done = pg("buyers", "list", PUNCHGATE_DATABASE_URL="nosuchdb://x/y")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "PUNCHGATE_DATABASE_URL scheme 'nosuchdb' is not supported" in done.stderr
    debug = pg("buyers", "list", PUNCHGATE_DATABASE_URL="nosuchdb://x/y", PUNCHGATE_DEBUG="1")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_buyers_validate_reports_every_mistake_at_once(pg, cli, tmp_path):
    path = tmp_path / "buyers.toml"
    path.write_text(FIVE_MISTAKES)
    done = pg("buyers", "validate", str(path))
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if ": error: " in line]
    assert len(errors) == 6
    assert errors[0].startswith(f"{path}:11: error: buyer 'acme': buyer.return_url_prefixes")
    assert f"{path}:26: error: buyer 'initech': buyer.oci.password" in done.stdout
    assert done.stdout.splitlines()[-1] == f"{path}: 2 buyer(s), 6 error(s), 0 warning(s)"
    report = json.loads(cli("buyers", "validate", "--json", str(path))[1])
    assert report["errors"] == 6 and report["buyers"] == ["acme", "initech"]
    assert set(report["problems"][0]) == {"level", "who", "key", "line", "message"}
    code, out, _ = cli("buyers", "validate", str(DEMO / "buyers.toml"))
    assert code == 0 and "3 buyer(s), 0 error(s)" in out


def test_a_file_with_errors_loads_nothing(cli, gateway, tmp_path):
    path = tmp_path / "buyers.toml"
    path.write_text(FIVE_MISTAKES)
    code, _, err = cli("buyers", "load", str(path))
    assert code == 1 and err.strip().endswith("6 error(s); nothing loaded")
    assert f"{path}:13: error: buyer 'acme': buyer.cxml.version" in err
    assert cli("buyers", "list", "--json")[1].strip() == "[]"


def _documented_shapes() -> dict[str, set[str]]:
    """The README's table of --json keys, by command ("buyers show" -> its keys)."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| command | keys |", 1)[1].split("\n\n", 1)[0]
    shapes: dict[str, set[str]] = {}
    for row in table.splitlines()[2:]:
        commands, keys = (cell.strip() for cell in row.strip().strip("|").split("|"))
        names = set(re.findall(r"[a-z_]+", keys.replace("those of", "")))
        if match := re.search(r"those of `([^`]+)`", keys):
            names = (names - set(match.group(1).split())) | shapes[match.group(1)]
        for command in re.findall(r"`([^`]+)`", commands):
            shapes[command] = names - {"and"}
    return shapes


def test_lists_and_shows_as_json_in_the_documented_shape(pg, cli, demo, client, monkeypatch):
    from tests.documents import order_request
    from tests.helpers import add_items, transfer_lines
    from tests.support.test_console_pages import refused_punchout

    assert pg("buyers", "load", str(DEMO / "buyers.toml")).returncode == 0
    token = open_session(client)
    add_items(client, token, [("NW-1001", 2)])
    ((_, aux, _),) = transfer_lines(client, token)
    client.post(
        "/cxml", data=order_request([{"sku": "NW-1001", "qty": "2", "price": "12.90", "aux": aux}])
    )
    monkeypatch.setenv("PUNCHGATE_ALERT_FAILURES", "1")
    refused_punchout(client)  # an alert in force: acme's punchouts are failing
    monkeypatch.setenv("AGENT_PW", "an-agent-password-2026")
    remember_secret("an-agent-password-2026")
    assert cli("agents", "add", "agent@supplier.example", "--password-env", "AGENT_PW")[0] == 0

    def as_json(*args):
        code, out, err = cli(*args, "--json")
        assert code == 0, (args, err)
        return json.loads(out)

    [session] = as_json("sessions", "list", "--since", "1h")
    [user] = as_json("users", "list", "--buyer", "acme")
    [order] = as_json("orders", "list", "--buyer", "acme")
    [message] = as_json("outbox", "list")
    [agent] = as_json("agents", "list")
    [alert] = as_json("alerts", "list")
    [request, *_] = as_json("requests", "list")
    got = {
        "buyers list": as_json("buyers", "list")[0],
        "buyers show": as_json("buyers", "show", "acme"),
        "buyers credentials": as_json("buyers", "credentials", "--buyer", "acme")[0],
        "users list": user,
        "users show": as_json("users", "show", user["email"]),
        "sessions list": session,
        "sessions show": as_json("sessions", "show", str(session["id"])),
        "orders list": order,
        "orders show": as_json("orders", "show", order["order_id"]),
        "requests list": request,
        "requests show": as_json("requests", "show", str(request["id"])),
        "alerts list": alert,
        "alerts show": as_json("alerts", "show", alert["key"]),
        "outbox list": message,
        "outbox show": as_json("outbox", "show", str(message["id"])),
        "agents list": agent,
        "agents show": as_json("agents", "show", agent["email"]),
    }
    shapes = _documented_shapes()
    for command, row in got.items():
        assert set(row) == shapes[command], command
    roles = as_json("roles", "list", "--buyer", "acme")
    assert all(set(r) == shapes["roles list"] for r in roles)
    # Every list and show of the CLI table has its row in the shapes table.
    listed = {" ".join(p) for p in _commands(main) if p[-1] in ("list", "show")}
    assert listed <= set(shapes), listed - set(shapes)
    # A kind gives the alerts of that kind, in the shape of `alerts list`.
    assert as_json("alerts", "show", "punchouts_failing") == [alert]
    assert as_json("alerts") == [alert]  # the bare noun is `alerts list`
    assert alert["kind"] == "punchouts_failing" and alert["buyer"] == "acme"
    # What the rows say, as a person would check it.
    assert session["buyer"] == "acme" and session["status"] == "ordered"
    assert user["email"] == "jane.doe@acme.example" and order["order_id"] == "PO-1001"
    assert got["buyers list"]["protocols"] == ["cxml", "oci"]
    assert got["buyers show"]["from"] == ["networkid/an01000000001"]
    assert "demo-acme" not in json.dumps(got["buyers show"])
    assert as_json("sessions", "list", "--since", "2099-01-01") == []
    assert cli("sessions", "list", "--buyer", "globex")[1].strip() == "no sessions"
    header = cli("sessions", "list")[1].splitlines()[0].split()
    assert header == ["ID", "BUYER", "USER", "PROTO", "OP", "STATUS", "LINES", "CREATED"]


def _row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: conn.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_replay_never_touches_the_configured_database(pg, demo, database_url, tmp_path):
    before = _row_counts(database_url)
    assert before["buyers"] == 3 and before["punchout_sessions"] == 0
    fixtures = ROOT / "fixtures"
    # Buyers copied from the configured database, then from a buyers file.
    copied = pg("replay", str(fixtures / "ariba"), str(fixtures / "generic"))
    assert copied.returncode == 0, copied.stdout + copied.stderr
    from_file = pg("replay", "--buyers", str(DEMO / "buyers.toml"), str(fixtures / "sap-oci"))
    assert from_file.returncode == 0, from_file.stdout + from_file.stderr
    assert _row_counts(database_url) == before
    # Progress on stderr, a summary table on stdout.
    assert "[ 1/" in copied.stderr and "ok    ariba/order-1-new.xml" in copied.stderr
    summary = copied.stdout.split("\n\n")[0].strip().splitlines()
    assert summary[0].split() == ["FOLDER", "FIXTURES", "PASSED", "FAILED", "MS"]
    assert summary[1].split()[:4] == ["ariba", "6", "6", "0"]


def test_replay_into_a_named_database_says_so(pg, demo, database_url, tmp_path):
    from gateway.migrate import upgrade

    target = f"sqlite:///{tmp_path / 'scratch.db'}"
    upgrade(target)
    loaded = pg("buyers", "load", str(DEMO / "buyers.toml"), PUNCHGATE_DATABASE_URL=target)
    assert loaded.returncode == 0, loaded.stderr
    done = pg("replay", "--database", target, str(ROOT / "fixtures" / "ariba"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"replaying into {target}" in done.stderr
    assert _row_counts(target)["orders"] > 0


def test_a_failing_expectation_shows_the_answer_readably(pg, demo, tmp_path):
    for suffix in (".xml", ".expect.toml"):
        source = ROOT / "fixtures" / "generic" / f"setup-create{suffix}"
        (tmp_path / f"setup-create{suffix}").write_text(source.read_text())
    expect = tmp_path / "setup-create.expect.toml"
    expect.write_text(expect.read_text().replace("status = 200", "status = 201"))
    done = pg("replay", str(tmp_path))
    assert done.returncode == 1
    assert '-  "status": 201,' in done.stdout and '+  "status": 200,' in done.stdout
    assert "the answer:\n  | <cXML" in done.stdout
    assert '  |     <Status code="200"' in done.stdout  # indented, one element a line
    assert "[redacted]</URL>" in done.stdout  # the StartPage token is never printed


SYSTEMS = ["ariba", "coupa", "jaggaer", "oracle", "sap-oci", "generic"]


def _starter_env(buyer_id: str) -> dict[str, str]:
    from provisioning.starters import env_prefix

    prefix = env_prefix(buyer_id)
    return {
        f"{prefix}_SHARED_SECRET": f"{buyer_id}-shared-secret-for-tests",
        f"{prefix}_OCI_PASSWORD": f"{buyer_id}-oci-password-for-tests",
    }


def test_a_new_buyer_in_one_command_replays_green(pg, gateway, tmp_path):
    for value in _starter_env("initrode").values():
        remember_secret(value)
    made = pg("buyers", "new", "initrode", "--system", "coupa", "--dir", str(tmp_path / "i"))
    assert made.returncode == 0, made.stderr
    assert "export INITRODE_SHARED_SECRET=" in made.stdout
    toml = (tmp_path / "i" / "buyers.toml").read_text()
    assert 'form_encoding = "cxml-urlencoded"' in toml and "# Coupa" in toml
    unset = pg("buyers", "validate", str(tmp_path / "i" / "buyers.toml"))
    assert unset.returncode == 1 and "'INITRODE_SHARED_SECRET', which is not set" in unset.stdout
    env = _starter_env("initrode")
    done = pg("replay", "--buyers", str(tmp_path / "i" / "buyers.toml"), str(tmp_path / "i"), **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed, 0 failed" in done.stdout
    again = pg("buyers", "new", "initrode", "--system", "coupa", "--dir", str(tmp_path / "i"))
    assert again.returncode == 1 and "exists and is not empty" in again.stderr


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_system_starter_validates_and_replays(cli, monkeypatch, gateway, tmp_path, system):
    buyer_id = f"new-{system}"
    for name, value in _starter_env(buyer_id).items():
        monkeypatch.setenv(name, value)
        remember_secret(value)
    assert cli("buyers", "new", buyer_id, "--system", system, "--dir", str(tmp_path))[0] == 0
    code, out, _ = cli("buyers", "validate", str(tmp_path / "buyers.toml"))
    assert code == 0 and "0 error(s), 0 warning(s)" in out
    code, out, err = cli("replay", "--buyers", str(tmp_path / "buyers.toml"), str(tmp_path))
    assert code == 0 and " 0 failed" in out, out + err


def test_the_readme_cli_table_matches_the_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command line (`punchgate`)", 1)[1].split("Conventions:", 1)[0]
    documented: dict[str, set[str]] = {}
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        nouns, verbs = row.split(" | ")[:2]
        for noun in re.findall(r"`([a-z]+)`", nouns):
            documented[noun] = {v.split()[0] for v in re.findall(r"`([^`]+)`", verbs)}
    actual = {
        name: set(getattr(command, "commands", {})) for name, command in main.commands.items()
    }
    assert documented == actual


def test_alerts_list_and_show(pg, cli, demo, client, monkeypatch):
    from gateway.cli.alerts import KINDS
    from tests.support.test_console_pages import refused_punchout

    monkeypatch.setenv("PUNCHGATE_ALERT_FAILURES", "2")
    assert cli("alerts", "list") == (0, "no alerts\n", "")
    assert cli("alerts", "show", "orders_held") == (0, "no orders_held alerts in force\n", "")
    assert cli("alerts", "show", "orders_held", "--json")[1].strip() == "[]"
    for n in range(2):
        refused_punchout(client, cookie=f"c{n}")
    [alert] = json.loads(cli("alerts", "list", "--json")[1])
    assert alert["kind"] == "punchouts_failing" and alert["count"] == 2
    assert json.loads(cli("alerts", "list", "--buyer", "acme", "--json")[1]) == [alert]
    assert json.loads(cli("alerts", "list", "--buyer", "globex", "--json")[1]) == []
    assert cli("alerts", "list", "--buyer", "globex")[1] == "no alerts for buyer globex\n"
    text = cli("alerts", "list")[1]
    assert text.startswith("critical punchouts_failing  2 refused requests from acme")
    assert f"[{alert['key']}]" in text  # the key `alerts show` takes
    assert json.loads(cli("alerts", "show", alert["key"], "--json")[1]) == alert
    code, out, _ = cli("alerts", "show", alert["key"])
    assert code == 0 and f"     key: {alert['key']}" in out and "severity: critical" in out
    # The installed command, with the bare noun as before (`alerts --json`, `--notify`).
    bare = pg("alerts", "--json", PUNCHGATE_ALERT_FAILURES="2")
    assert bare.returncode == 0 and json.loads(bare.stdout) == [alert]
    gone = pg("alerts", "show", "punchouts_failing:acme:0")
    assert gone.returncode == 1 and gone.stdout == ""
    assert gone.stderr.startswith("Error: no alert 'punchouts_failing:acme:0' in force")
    assert "a kind: punchouts_failing, deliveries_dead" in gone.stderr
    # --notify: new alerts once, from the bare noun or the verb.
    monkeypatch.setenv("PUNCHGATE_ALERT_WEBHOOK_URL", "https://hooks.supplier.example/alerts")
    code, _, err = cli("alerts", "--notify")
    assert code == 0 and err == "1 new alert(s) queued for the webhook\n"
    code, _, err = cli("alerts", "list", "--notify", "--json")
    assert code == 0 and err == "0 new alert(s) queued for the webhook\n"
    # Usage errors: --notify is for every buyer; group options go after the verb.
    code, _, err = cli("alerts", "list", "--notify", "--buyer", "acme")
    assert code == 2 and "--notify queues every buyer's alerts" in err
    code, _, err = cli("alerts", "--json", "show", "orders_held")
    assert code == 2 and "after the verb" in err
    # Every kind the alerts module reports is one `alerts show` knows (and its help names).
    source = (ROOT / "gateway" / "support" / "alerts.py").read_text()
    made = set(re.findall(r'Alert\(\s*"(\w+)"', source)) | {"orders_held", "orders_rejected"}
    assert made == set(KINDS)
    helped = " ".join(cli("alerts", "show", "--help")[1].split())
    assert all(kind in helped for kind in KINDS)


def test_users_list_by_a_role_the_buyer_knows(cli, demo, tmp_path):
    write_buyers(demo, tmp_path, demo_buyers_with("[buyer.roles.viewer]\nshow_prices = false\n"))
    assert cli("users", "list", "--buyer", "acme", "--role", "viewer") == (0, "no users\n", "")
    assert cli("users", "list", "--buyer", "acme", "--role", "requester")[0] == 0  # the default
    assert cli("users", "list", "--role", "viewer", "--json") == (0, "[]\n", "")
    assert cli("users", "list", "--buyer", "globex", "--role", "viewer") == (
        1,
        "",
        "Error: no role 'viewer' at buyer 'globex'\n",
    )
