"""Pre-framed websocket writes for the hub's fan-out: the one module that reaches into Daphne.

Sending a frame through Channels costs about 80 µs of CPU per socket here: the consumer's
``send`` coroutine, the session middleware, Daphne's ``handle_reply``, a UTF-8 encode of the
text, autobahn's framing (which joins header and payload into a fresh copy) and Twisted's
buffered write, which arms the socket for writing in epoll, waits a loop iteration, sends, and
disarms it again — two ``epoll_ctl`` calls per frame per socket. The hub sends the same frame
to every socket of a view, so it frames it once (RFC 6455 §5.2; server frames are unmasked)
and hands the same bytes to each socket: when Twisted has nothing queued for that socket the
bytes go to the kernel with one ``send()``, otherwise they queue behind what is there.

Used only for a Channels consumer served by Daphne over plain TCP, on an open socket with no
per-message compression and no fragmented message in progress; anywhere else
(WebsocketCommunicator in tests, another ASGI server, TLS terminated by Twisted, a future
Daphne whose internals moved) :func:`direct_writer` answers ``None`` and the caller sends
through Channels as usual.
"""

from __future__ import annotations

import functools
import logging
import struct
import sys
from typing import Any

log = logging.getLogger(__name__)

_FIN_TEXT = 0x81  # FIN + opcode 1 (text)
_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")
# Middleware wrappers between a consumer and the server's send (Channels' session wrapper);
# bounded so a cycle can never loop.
_MAX_WRAPPERS = 8
_announced = False


def encode_text_frame(text: str) -> bytes:
    """One unfragmented, unmasked websocket text frame carrying ``text``."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        head = _SHORT.pack(_FIN_TEXT, length)
    elif length <= 0xFFFF:
        head = _MEDIUM.pack(_FIN_TEXT, 126, length)
    else:
        head = _LONG.pack(_FIN_TEXT, 127, length)
    return head + payload


class DirectWriter:
    """Writes pre-framed bytes to one Daphne websocket connection."""

    __slots__ = ("protocol", "transport", "_open", "_ground")

    def __init__(self, protocol: Any, transport: Any) -> None:
        self.protocol = protocol
        self.transport = transport
        self._open = type(protocol).STATE_OPEN
        self._ground = type(protocol).SEND_STATE_GROUND

    def write(self, frame: bytes) -> bool:
        """Write ``frame`` (from :func:`encode_text_frame`); False if the caller must use Channels."""
        protocol = self.protocol
        if (
            protocol.state != self._open
            or protocol.send_state != self._ground
            or protocol.send_queue
            or protocol._perMessageCompress is not None
        ):
            return False
        transport = self.transport
        if not transport.connected or transport.disconnecting:
            return False
        if transport._tempDataLen or transport.offset < len(transport.dataBuffer):
            transport.write(frame)  # keep the order behind what is already queued
            sent = len(frame)
        else:
            sent = _send_now(transport, frame)
        if sent < len(frame):
            transport.write(frame[sent:])
        if not _announced:
            _announce()
        return True


def _send_now(transport: Any, frame: bytes) -> int:
    try:
        return transport.socket.send(frame)
    except (BlockingIOError, InterruptedError):
        return 0
    except OSError:
        # A reset or closed peer: let Twisted meet the error on its own write and close the
        # connection the usual way (the consumer's disconnect follows).
        return 0


def _announce() -> None:
    global _announced
    _announced = True
    log.info("live sockets: hub frames are written pre-framed to Daphne's transport")


def _daphne_protocol(send: Any) -> Any:
    """Daphne's WebSocketProtocol behind an ASGI send callable, through middleware wrappers."""
    ws_module = sys.modules.get("daphne.ws_protocol")
    if ws_module is None:  # not served by Daphne
        return None
    protocol_class = ws_module.WebSocketProtocol
    for _ in range(_MAX_WRAPPERS):
        if isinstance(send, functools.partial):
            # Daphne's send is partial(server.handle_reply, protocol).
            for argument in send.args:
                if isinstance(argument, protocol_class):
                    return argument
            return None
        # Channels' InstanceSessionWrapper.send forwards websocket frames to real_send unchanged.
        send = getattr(getattr(send, "__self__", None), "real_send", None)
        if send is None:
            return None
    return None


def direct_writer(consumer: Any) -> DirectWriter | None:
    """A writer for an accepted consumer's socket, or None where only Channels' send is safe."""
    try:
        protocol = _daphne_protocol(getattr(consumer, "base_send", None))
        if protocol is None:
            return None
        transport = protocol.transport
        tcp = sys.modules.get("twisted.internet.tcp")
        if tcp is None or not isinstance(transport, tcp.Connection) or getattr(transport, "TLS", False):
            return None
        for name in ("state", "send_state", "send_queue", "_perMessageCompress"):
            getattr(protocol, name)
        for name in ("socket", "connected", "disconnecting", "_tempDataLen", "offset", "dataBuffer"):
            getattr(transport, name)
        type(protocol).STATE_OPEN, type(protocol).SEND_STATE_GROUND  # noqa: B018 - must exist
    except Exception:  # internals moved: fall back, and say so once
        log.warning("live sockets: Daphne internals not as expected; sending through Channels", exc_info=True)
        return None
    return DirectWriter(protocol, transport)
