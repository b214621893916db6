"""The outbox's HTTP client: one kept-alive connection per receiver, answers read as
post_json reads them, and a connection the receiver closed while idle costs no message."""

from __future__ import annotations

import json
import urllib.request

import pytest

from gateway.marketplace.adapters import KeepAlive, post_json
from tests.marketplace_server import KeptAliveReceiver as Receiver


@pytest.fixture
def receivers():
    started = []

    def start(**kwargs) -> Receiver:
        started.append(Receiver(**kwargs))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


def test_many_posts_share_one_connection(receivers):
    receiver = receivers()
    http = KeepAlive()
    for i in range(20):
        result = http.post(
            f"{receiver.url}/orders?x=1", json.dumps({"n": i}), {"Idempotency-Key": f"k{i}"}, 5
        )
        assert result.ok and result.http_status == 201 and result.answer == {"status": "accepted"}
    http.close()
    assert receiver.connections == 1
    assert [key for _, key, _ in receiver.requests] == [f"k{i}" for i in range(20)]
    assert receiver.requests[3] == ("/orders?x=1", "k3", b'{"n": 3}')


def test_a_connection_closed_while_idle_is_replaced_and_nothing_is_lost(receivers):
    receiver = receivers(close_after=3)
    http = KeepAlive()
    for i in range(10):
        assert http.post(receiver.url, "{}", {"Idempotency-Key": f"k{i}"}, 5).ok
    keys = [key for _, key, _ in receiver.requests]
    assert keys == [f"k{i}" for i in range(10)]  # each once: none was lost, none doubled
    assert receiver.connections == 4


def test_answers_read_as_post_json_reads_them(receivers):
    http = KeepAlive()
    for status, body in [(422, b'{"error": "bad"}'), (500, b"broken"), (429, b"slow down")]:
        receiver = receivers(status=status, body=body)
        kept, once = (
            f(receiver.url, "{}", {"Idempotency-Key": "k"}, 5) for f in (http.post, post_json)
        )
        assert kept == once
    down = post_json("http://127.0.0.1:9", "{}", {}, 5)
    assert http.post("http://127.0.0.1:9", "{}", {}, 5) == down
    assert not down.ok and not down.permanent and down.detail.startswith("unreachable: ")


def test_a_proxy_from_the_environment_is_still_used(receivers, monkeypatch):
    proxy = receivers()  # a proxy is asked for the whole URL
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # urlopen reads the environment's proxies once per process, into this.
    monkeypatch.setattr(urllib.request, "_opener", None)
    assert KeepAlive().post("http://marketplace.invalid/orders", "{}", {}, 5).ok
    assert [path for path, _, _ in proxy.requests] == ["http://marketplace.invalid/orders"]
