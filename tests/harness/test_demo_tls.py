"""`gridwatch demo` runs MQTT as a deployment does: a TLS-only broker that edge,
central and the demo's own watcher reach over TLS."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from gridwatch.contract import Topics
from harness.demo_stack import DemoStack
from tests.utils.broker import ProbeClient

pytestmark = pytest.mark.integration


def test_demo_stack_should_reach_a_tls_only_broker(tmp_path: Path) -> None:
    with DemoStack(tmp_path, None, cameras=0, http_port=None) as stack:
        assert stack.broker is not None and stack.central is not None
        broker = stack.broker
        assert not broker.plaintext and broker.endpoint.tls is not None
        with pytest.raises(OSError):
            socket.create_connection((broker.host, broker.port), timeout=1).close()
        mqtt = stack.central.settings.mqtt
        assert mqtt.tls is not None and mqtt.port == broker.tls_port
        assert stack.central.mqtt.is_connected
        # The watcher, on the observer login, hears a node's event over TLS.
        node = ProbeClient(broker, broker.node("node-01"))
        try:
            body = b'{"type": "crowding", "phase": "start"}'
            assert not node.publish(Topics().events("node-01"), body).is_failure
        finally:
            node.close()
        deadline = time.monotonic() + 10
        assert stack.watcher is not None
        while not stack.watcher.event_counts:
            assert time.monotonic() < deadline, "the watcher heard nothing"
            time.sleep(0.05)
        assert stack.watcher.event_counts == {"crowding:start": 1}
