"""A bridge refuses a sidecar speaking another protocol version, with a message that says so
(the check the standalone build's test runs on the built `topline`, here in-process and fast)."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
import zmq

from host_bridge.client import ProtocolMismatch
from host_bridge.supervisor import SidecarManager


class ForeignSidecar:
    """Writes a connection file claiming ``claims`` and answers every request in protocol 2."""

    def __init__(self, cf: Path, claims: int) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        cf.write_text(json.dumps({"ip": "127.0.0.1", "port": port, "pid": os.getpid(), "protocol": claims}))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stop.is_set():
            if self.sock.poll(50):
                ident, header, *_ = self.sock.recv_multipart()
                mid = json.loads(header).get("id", "?")
                reply = {"v": 2, "id": "r-" + mid, "re": mid, "type": "hello_reply", "body": {"versions": [2]}}
                self.sock.send_multipart([ident, json.dumps(reply).encode()])

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close(0)
        self.ctx.term()


@pytest.mark.parametrize("claims", [2, 1], ids=["connection-file-says-2", "answers-in-2"])
def test_bridge_refuses_a_sidecar_of_another_protocol(tmp_path: Path, claims: int) -> None:
    cf = tmp_path / "sidecar.json"
    foreign = ForeignSidecar(cf, claims)
    try:
        with pytest.raises(ProtocolMismatch) as e:
            SidecarManager(connection_file=cf).ensure()  # must not start another sidecar over it
    finally:
        foreign.close()
    assert "speaks protocol version 2; this topline speaks 1" in e.value.message
    assert "same release" in e.value.hint
    assert json.loads(cf.read_text())["protocol"] == claims, "the other sidecar's connection file is left alone"
