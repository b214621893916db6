"""punchgate replay over HTTP, against a real punchgate serve."""

from __future__ import annotations

from click.testing import CliRunner

from gateway.cli import main
from tests.conftest import DEMO, ROOT

FIXTURES = ROOT / "fixtures"


def test_replay_over_http(live_server, demo_buyers, listener, tmp_path):
    buyers = tmp_path / "buyers.toml"
    buyers.write_text(
        (DEMO / "buyers.toml").read_text().replace("127.0.0.1:9000", f"127.0.0.1:{listener.port}")
    )
    result = CliRunner().invoke(
        main,
        [
            "replay",
            "--url",
            live_server,
            "--buyers",
            str(buyers),
            str(FIXTURES / "generic"),
            str(FIXTURES / "attacks"),
            str(FIXTURES / "sap-oci"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output
