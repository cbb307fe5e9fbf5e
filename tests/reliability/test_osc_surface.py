"""Issue 22, the OSC bridge as any local UDP sender reaches it: it reads only inside the session
folder and never sends a byte of a file back, a FIFO or a hostile packet never blocks or
silences it, and it binds loopback unless told otherwise."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from host_bridge.bridge import Bridge
from host_bridge.core.errors import InputError
from host_bridge.osc import OscSurface, scrub
from host_bridge.supervisor import SidecarManager
from host_bridge.takes import TakeFolder

SECRET_LINES = [b"TOPSECRET-4f1c9a-first-line", b"password=hunter2-second-line"]


class Peer:
    def __init__(self, target: tuple[str, int]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.target = target
        self.raw: list[bytes] = []

    def send(self, address: str, *args: Any) -> None:
        self.sock.sendto(build_msg(address, list(args)).dgram, self.target)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def error(self, timeout: float = 5.0) -> list[Any]:
        """The next /topline/error reply's arguments (every datagram is kept in ``raw``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.raw.append(data)
            m = OscMessage(data)
            if m.address == "/topline/error":
                return list(m.params)
        raise AssertionError(f"no /topline/error within {timeout} s")


@pytest.fixture
def session(tmp_path: Path) -> dict[str, Path]:
    """A session folder with valid-looking files, and a secret file outside it."""
    root = tmp_path / "song"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_bytes(b"\n".join(SECRET_LINES) + b"\n")
    (root / "lyrics.txt").write_text("la la la\n")
    (root / "melody.mid").write_bytes(b"MThd")
    (root / "inst.wav").write_bytes(b"RIFF")
    return {"root": root, "secret": secret}


@pytest.fixture
def surface(session: dict[str, Path], tmp_path: Path) -> Iterator[OscSurface]:
    """An OSC surface on a bridge that never needs its sidecar: every request here is refused
    before anything is sent."""
    bridge = Bridge(SidecarManager(connection_file=tmp_path / "none.json"))
    s = OscSurface(bridge, TakeFolder(session["root"] / "Topline Takes"), port=0)
    s.start()
    t = threading.Thread(target=s.run, daemon=True)
    t.start()
    yield s
    s.stop()
    t.join(10)


def test_osc_never_sends_back_a_byte_of_a_secret_file_outside_the_session(
        surface: OscSurface, session: dict[str, Path]) -> None:
    root, secret = session["root"], session["secret"]
    (root / "link.txt").symlink_to(secret)
    (root / "sub").mkdir()
    spellings = [str(secret), "../outside/secret.txt", "sub/../../outside/secret.txt", "link.txt",
                 str(root / "link.txt"), str(root / ".." / "outside" / "secret.txt")]
    good = {"instrumental": "inst.wav", "lyrics": "lyrics.txt", "melody": "melody.mid"}
    peer = Peer(surface.address)
    for spelling in spellings:
        for slot in good:
            args = [spelling if k == slot else v for k, v in good.items()]
            peer.send("/topline/generate", *args)
            err = peer.error()
            assert "outside the session folder" in err[2], err
    blob = b"".join(peer.raw)
    for line in SECRET_LINES:
        for i in range(0, len(line) - 8):  # not even a 8-byte piece of it
            assert line[i:i + 8] not in blob


def test_osc_fifo_as_the_lyrics_path_does_not_block_the_surface(surface: OscSurface, session: dict[str, Path]) -> None:
    os.mkfifo(session["root"] / "lyrics.fifo")
    peer = Peer(surface.address)
    t0 = time.monotonic()
    peer.send("/topline/generate", "inst.wav", "lyrics.fifo", "melody.mid")
    err = peer.error(timeout=3)
    assert err[1] == "bad_lyrics" and "not a regular file" in err[2]
    peer.send("/topline/generate", "missing.wav", "lyrics.txt", "melody.mid")
    assert "does not exist" in peer.error(timeout=3)[2]
    assert time.monotonic() - t0 < 3


def test_osc_folder_as_a_file_path_is_named_a_folder(surface: OscSurface, session: dict[str, Path]) -> None:
    (session["root"] / "stems").mkdir()
    peer = Peer(surface.address)
    peer.send("/topline/generate", "stems", "lyrics.txt", "melody.mid")
    err = peer.error()
    assert err[1] == "bad_audio" and "is a folder" in err[2]


@pytest.mark.parametrize("packet, expect", [
    (b"#bundle\x00" + bytes(8), "no OSC message"),  # an empty bundle
    (b"#bundle\x00" + bytes(8) + b"\x00\x00\x00\x40/x\x00\x00", "/x"),  # an element longer than the packet
    (b"#bundle\x00\x00", "not an OSC message"),
    (b"/top\xffline\x00\x00\x00,\x00\x00\x00", "not an OSC message"),  # non-UTF-8 address
    (b"/topline/generate\x00\x00\x00,s\x00\x00\xff\xfe\x00\x00", "not an OSC message"),  # non-UTF-8 argument
])
def test_osc_malformed_bundle_or_non_utf8_packet_is_answered(surface: OscSurface, packet: bytes, expect: str) -> None:
    peer = Peer(surface.address)
    peer.send_raw(packet)
    err = peer.error()
    assert err[0] == "" and err[1] == "bad_osc" and expect in err[2] and err[3]


def test_osc_bundle_timed_far_ahead_does_not_put_the_surface_to_sleep(surface: OscSurface) -> None:
    b = OscBundleBuilder(time.time() + 10 ** 6)
    b.add_content(build_msg("/topline/generate", ["only-one"]))
    peer = Peer(surface.address)
    peer.send_raw(b.build().dgram)
    assert "got 1 arguments" in peer.error(timeout=3)[2]
    peer.send("/topline/cancel")
    assert "/topline/cancel" in peer.error(timeout=3)[2]


def test_osc_on_a_non_loopback_address_is_refused_without_the_flag(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    bridge = Bridge(SidecarManager(connection_file=tmp_path / "none.json"))
    takes = TakeFolder(tmp_path / "Topline Takes")
    with pytest.raises(InputError) as e:
        OscSurface(bridge, takes, host="0.0.0.0", port=0)
    assert "--osc-allow-remote" in e.value.hint
    with caplog.at_level(logging.WARNING, logger="host_bridge.osc"):
        s = OscSurface(bridge, takes, host="0.0.0.0", port=0, allow_remote=True)
    s.server.server_close()
    assert any("any machine" in r.getMessage() for r in caplog.records)


def test_osc_error_text_never_quotes_file_contents() -> None:
    msg = 'line 3 "root:x:0:0:root:/root:/bin/bash" has 40 syllables; track \'TOPSECRET\' is empty'
    out = scrub(msg)
    assert "root:x" not in out and "TOPSECRET" not in out and "line 3" in out and "40 syllables" in out
