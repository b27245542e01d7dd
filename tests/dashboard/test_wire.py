"""Pre-framed websocket writes (dashboard/wire.py): the frames are valid RFC 6455 text frames
(plain, or compressed on their own per RFC 7692), and behind a real Daphne they reach every
socket whole and in order: one that negotiated permessage-deflate, and one that did not and
stops reading until its buffers are full (the bytes then queue in Twisted behind what is there)."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
import time
import zlib
from types import SimpleNamespace

import pytest

from dashboard.publisher import DeploymentEventSink
from dashboard.wire import PreparedFrame, direct_writer, encode_deflated_text_frame, encode_text_frame
from tests.dashboard.conftest import make_deployment, session_cookie


def decode_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(first byte, payload) of each unmasked frame in ``data``, by RFC 6455 §5.2."""
    frames, pos = [], 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        assert not b1 & 0x80, "server frames must not be masked"
        length, pos = b1 & 0x7F, pos + 2
        if length == 126:
            (length,), pos = struct.unpack("!H", data[pos : pos + 2]), pos + 2
        elif length == 127:
            (length,), pos = struct.unpack("!Q", data[pos : pos + 8]), pos + 8
        frames.append((b0, data[pos : pos + length]))
        pos += length
    return frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_a_text_frame_carries_its_payload_with_the_right_length_class(size):
    text = "x" * size
    [(b0, payload)] = decode_frames(encode_text_frame(text))
    assert b0 == 0x81  # FIN, text
    assert payload.decode() == text


def test_the_frame_length_counts_utf8_bytes_not_characters():
    text = "é" * 100  # 200 bytes: needs the 16-bit length form although 100 characters fit in 7 bits
    frame = encode_text_frame(text)
    assert frame[1] == 126
    [(_, payload)] = decode_frames(frame)
    assert payload.decode() == text


def inflate(payload: bytes) -> bytes:
    return zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")


def test_a_deflated_frame_sets_rsv1_and_inflates_alone_to_the_text():
    text = json.dumps({"rows": [{"key": f"k{i}", "value": {"count": i}} for i in range(500)]})
    [(b0, payload)] = decode_frames(encode_deflated_text_frame(text))
    assert b0 == 0xC1  # FIN, RSV1 (compressed), text
    assert len(payload) < len(text) / 3
    assert inflate(payload).decode() == text  # a fresh decompressor: no shared context needed


def test_a_prepared_frame_builds_each_wire_form_once():
    prepared = PreparedFrame("héllo")
    assert prepared.plain() is prepared.plain()
    assert prepared.deflated() is prepared.deflated()
    assert decode_frames(prepared.plain()) == [(0x81, "héllo".encode())]


def test_outside_daphne_there_is_no_direct_writer():
    async def some_send(message):
        return None

    assert direct_writer(SimpleNamespace(base_send=some_send)) is None
    assert direct_writer(SimpleNamespace()) is None


# ----------------------------------------------------------------------------- real Daphne


class RawWebsocket:
    """A blocking RFC 6455 client, small enough to read in full: handshake, masked text out,
    frames in (answering pings)."""

    def __init__(self, base_url: str, cookie: str, receive_buffer: int | None = None, deflate: bool = False):
        host, port = base_url.removeprefix("http://").split(":")
        self.sock = socket.socket()
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(20)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws/live/ HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: {base_url}\r\nCookie: sessionid={cookie}\r\n"
                + (
                    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                    if deflate
                    else ""
                )
                + "\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        self.handshake = head.decode().lower()
        self.compressed_frames = 0
        self.text_frames = 0

    def send(self, frame: dict) -> None:
        payload = json.dumps({"v": 1, **frame}).encode()
        mask = os.urandom(4)
        self.sock.sendall(
            struct.pack("!BB", 0x81, 0x80 | len(payload))
            + mask
            + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        )

    def _read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the socket")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self) -> dict:
        while True:
            b0, b1 = self._read(2)
            assert not b1 & 0x80
            length = b1 & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read(8))
            payload = self._read(length)
            assert b0 & 0x80, "frames are never fragmented"
            if b0 & 0x0F == 0x9:
                continue  # a ping; the test is shorter than Daphne's ping timeout
            assert b0 & 0x0F == 0x1, f"unexpected opcode {b0 & 0x0F}"
            self.text_frames += 1
            if b0 & 0x40:  # RSV1: compressed on its own (server_no_context_takeover)
                self.compressed_frames += 1
                payload = inflate(payload)
            return json.loads(payload)

    def close(self) -> None:
        self.sock.close()


def deltas_until(client: RawWebsocket, last_seq: int) -> list[dict]:
    deltas: list[dict] = []
    while not deltas or deltas[-1]["seq"] < last_seq:
        frame = client.receive()
        if frame["type"] == "view.delta":
            deltas.append(frame)
    return deltas


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_hub_frames_reach_a_prompt_and_a_stalled_socket_whole_and_in_order_through_daphne(
    transactional_db, owner, live_daphne, stack_processes, clear_serving
):
    deployment = make_deployment(owner)
    cookie = session_cookie(owner)
    sink = DeploymentEventSink(deployment.pk, 0)
    sink.emit({"type": "table_delta", "view": "counts", "seq": 1, "windowed": False, "rows": []})

    prompt = RawWebsocket(live_daphne, cookie, deflate=True)
    stalled = RawWebsocket(live_daphne, cookie, receive_buffer=8192)
    assert "permessage-deflate; server_no_context_takeover" in prompt.handshake
    assert "permessage-deflate" not in stalled.handshake
    subscribe = {"type": "view.subscribe", "deployment": deployment.pk, "view": "counts"}
    for client in (prompt, stalled):
        client.send(subscribe)
    first_seq = prompt.receive()["seq"]  # the snapshot: prompt has joined; so has stalled, soon
    deadline = time.monotonic() + 10
    while stalled.receive()["type"] != "view.snapshot":
        assert time.monotonic() < deadline

    # ~150 KB per delta, 60 deltas: more than the stalled socket and Daphne's send buffer hold
    # (autotuned up to 4 MB), so Daphne has to queue part of the frames and send them later.
    padding = "p" * 1000
    for n in range(1, 61):
        rows = [{"key": f"k{i:03d}", "value": {"n": n, "pad": padding}} for i in range(150)]
        sink.emit({"type": "table_delta", "view": "counts", "seq": n + 1, "windowed": False, "rows": rows})
    last_seq = first_seq + 60
    prompt_deltas = deltas_until(prompt, last_seq)
    time.sleep(0.5)  # the stalled socket starts reading only now
    stalled_deltas = deltas_until(stalled, last_seq)

    for deltas in (prompt_deltas, stalled_deltas):
        covered = [seq for d in deltas for seq in range(d.get("first_seq", d["seq"]), d["seq"] + 1)]
        assert covered == list(range(first_seq + 1, last_seq + 1))
        assert {r["key"]: r["value"]["n"] for r in deltas[-1]["rows"]} == {
            f"k{i:03d}": 60 for i in range(150)
        }
    # Every frame the deflate socket got was compressed (snapshot by autobahn, deltas by the hub).
    assert prompt.compressed_frames == prompt.text_frames >= 1 + len(prompt_deltas)
    assert stalled.compressed_frames == 0
    # The frames went through the pre-framed path (it says so once per process, so the whole log
    # of the session's Daphne is read: earlier tests may have written any number of lines), not
    # Channels'.
    assert "hub frames are written pre-framed to Daphne's transport" in stack_processes.log_tail(
        "daphne", None
    )
    prompt.close()
    stalled.close()
    sink.close()


def covered_seqs(deltas: list[dict]) -> list[int]:
    return [seq for d in deltas for seq in range(d.get("first_seq", d["seq"]), d["seq"] + 1)]


def subscribed(url: str, cookie: str, deployment_pk: int, **options) -> tuple[RawWebsocket, dict]:
    """A socket subscribed to the view ``counts``, and the snapshot that answered."""
    client = RawWebsocket(url, cookie, **options)
    client.send({"type": "view.subscribe", "deployment": deployment_pk, "view": "counts"})
    while True:
        frame = client.receive()
        if frame["type"] == "view.snapshot":
            return client, frame


def big_delta(seq: int, n: int) -> dict:
    # ~150 KB; keys cycle over ten sets so a merged delta (hub.coalesce) stays as large.
    rows = [{"key": f"k{n % 10}-{i:03d}", "value": {"n": n, "pad": "p" * 1000}} for i in range(150)]
    return {"type": "table_delta", "view": "counts", "seq": seq, "windowed": False, "rows": rows}


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_a_socket_that_stops_reading_is_dropped_past_the_unsent_bound_and_a_reconnect_resyncs(
    transactional_db, owner, daphne_with, stack_processes, clear_serving
):
    bound = 1 << 20
    url = daphne_with("daphne-bounded", WEIR_LIVE_MAX_UNSENT_BYTES=str(bound))
    deployment = make_deployment(owner)
    cookie = session_cookie(owner)
    sink = DeploymentEventSink(deployment.pk, 0)
    sink.emit({"type": "table_delta", "view": "counts", "seq": 1, "windowed": False, "rows": []})
    prompt, snapshot = subscribed(url, cookie, deployment.pk)
    stalled, _ = subscribed(url, cookie, deployment.pk, receive_buffer=8192)
    first_seq = snapshot["seq"]

    # The prompt socket is read all along, in a thread; the stalled one not at all.
    prompt_deltas: list[dict] = []
    last_seq = [float("inf")]

    def read_prompt():
        while not prompt_deltas or prompt_deltas[-1]["seq"] < last_seq[0]:
            frame = prompt.receive()
            if frame["type"] == "view.delta":
                prompt_deltas.append(frame)

    reader = threading.Thread(target=read_prompt, daemon=True)
    reader.start()

    # The stalled socket's kernel buffers hold ~4 MB; past them Twisted queues, and past the
    # bound the writer drops the connection. Deltas go on until the log says so (at most 45 MB).
    dropped = "bytes unsent (bound"
    n = 0
    while n < 300 and (n % 5 or dropped not in stack_processes.log_tail("daphne-bounded", 200)):
        n += 1
        sink.emit(big_delta(first_seq + n, n))
        time.sleep(0.005)
    assert dropped in stack_processes.log_tail("daphne-bounded", 200), f"not dropped after {n} deltas"
    # One last small delta, so the reader never waits for a frame that is not coming.
    n += 1
    last_seq[0] = first_seq + n
    sink.emit({"type": "table_delta", "view": "counts", "seq": last_seq[0], "windowed": False, "rows": []})
    reader.join(60)
    assert not reader.is_alive(), "the prompt socket did not get every delta"
    # Nobody else paid for the stalled browser: the prompt socket got every delta, in order.
    assert covered_seqs(prompt_deltas) == list(range(first_seq + 1, last_seq[0] + 1))

    # The stalled browser's connection is reset (the bytes queued for it go too): whatever it
    # still reads is in order, then the socket closes (live.js: onclose, reconnect).
    stalled_deltas: list[dict] = []
    with pytest.raises(ConnectionError):
        while True:
            frame = stalled.receive()
            if frame["type"] == "view.delta":
                stalled_deltas.append(frame)
    covered = covered_seqs(stalled_deltas)
    assert covered == list(range(first_seq + 1, first_seq + 1 + len(covered)))
    assert len(covered) < n

    # What live.js does on that close: connect again, subscribe, apply a fresh snapshot.
    again, resync = subscribed(url, cookie, deployment.pk)
    assert resync["seq"] == last_seq[0]
    for client in (prompt, stalled, again):
        client.close()
    sink.close()


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_with_direct_writes_off_hub_frames_reach_the_browser_through_channels(
    transactional_db, owner, daphne_with, stack_processes, clear_serving
):
    url = daphne_with("daphne-channels-only", WEIR_LIVE_DIRECT_WRITE="0")
    deployment = make_deployment(owner)
    cookie = session_cookie(owner)
    sink = DeploymentEventSink(deployment.pk, 0)
    sink.emit({"type": "table_delta", "view": "counts", "seq": 1, "windowed": False, "rows": []})
    client, snapshot = subscribed(url, cookie, deployment.pk, deflate=True)
    # Stock Daphne: the deflate offer is not accepted either (no shared compression).
    assert "permessage-deflate" not in client.handshake
    first_seq = snapshot["seq"]
    for n in range(1, 6):
        sink.emit(big_delta(first_seq + n, n))
    deltas = deltas_until(client, first_seq + 5)
    assert covered_seqs(deltas) == list(range(first_seq + 1, first_seq + 6))
    assert client.compressed_frames == 0
    log = stack_processes.log_tail("daphne-channels-only", 400)
    assert "direct writes are off" in log
    assert "pre-framed" not in log
    client.close()
    sink.close()
