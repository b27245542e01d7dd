"""Pre-framed websocket writes for the hub's fan-out: the one module that reaches into Daphne.

Sending a frame through Channels costs about 80 µs of CPU per socket here: the consumer's
``send`` coroutine, the session middleware, Daphne's ``handle_reply``, a UTF-8 encode of the
text, autobahn's framing (which joins header and payload into a fresh copy) and Twisted's
buffered write, which arms the socket for writing in epoll, waits a loop iteration, sends, and
disarms it again — two ``epoll_ctl`` calls per frame per socket. The hub sends the same frame
to every socket of a view, so it frames it once (RFC 6455 §5.2; server frames are unmasked)
and hands the same bytes to each socket: when Twisted has nothing queued for that socket the
bytes go to the kernel with one ``send()``, otherwise they queue behind what is there.

Bytes are the other cost: at 10,000 events/s a tick's delta is ~38 KB of JSON, times 1,000
sockets, 20 times a second. :func:`install` makes Daphne accept ``permessage-deflate``
(RFC 7692) with ``server_no_context_takeover``, so every message is compressed on its own and
the compressed bytes are the same for every socket: the hub deflates a frame once (~0.1 ms,
~4.6x smaller) and sends those bytes to each socket that agreed; the rest get the plain frame.
Channels' own sends on such a socket are compressed by autobahn per socket, as usual.

Used only for a Channels consumer served by Daphne over plain TCP, on an open socket with no
fragmented message in progress; anywhere else
(WebsocketCommunicator in tests, another ASGI server, TLS terminated by Twisted, a future
Daphne whose internals moved) :func:`direct_writer` answers ``None`` and the caller sends
through Channels as usual. ``settings.LIVE_DIRECT_WRITE`` (``WEIR_LIVE_DIRECT_WRITE=0``) turns
all of this off, back to stock Daphne and Channels: no shared permessage-deflate, no direct
writes, no Daphne, autobahn or Twisted internals read; every frame goes through Channels'
send (and the unsent-bytes bound below is not enforced). Twisted and autobahn are pinned
exactly in requirements.txt for the internals read here.

A browser that stops reading (a frozen tab, a dead link) would otherwise make Twisted queue
every frame for it, ~0.7 MB/s per socket at 10,000 events/s, until the process runs out of
memory. When the bytes still queued for a socket from earlier frames pass
``settings.LIVE_MAX_UNSENT_BYTES`` (8 MiB by default, 0 = no bound), the writer drops the
connection instead of queueing more. A close frame cannot help here (it would wait behind the
very bytes the browser does not read), so the TCP connection is aborted (a reset: Twisted's
and the kernel's buffers for it are freed at once): the browser's live client sees the socket
close (code 1006), reconnects with backoff and subscribes again, which brings a fresh
snapshot of every view (static/dashboard/live.js; only codes 4400, 4401 and 4403 stop it). One frame larger than the bound still goes out whole when nothing is queued
before it, so a large snapshot never closes the socket it was meant for.
"""

from __future__ import annotations

import functools
import logging
import struct
import sys
import zlib
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

_FIN_TEXT = 0x81  # FIN + opcode 1 (text)
_FIN_TEXT_COMPRESSED = 0xC1  # FIN + RSV1 (per-message compressed) + opcode 1
# Level 1: ~4.6x on delta JSON for a third of the CPU of the default level; done once per frame.
_DEFLATE_LEVEL = 1
_DEFLATE_WINDOW_BITS = 15
_SYNC_FLUSH_TAIL = b"\x00\x00\xff\xff"
_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")
# Middleware wrappers between a consumer and the server's send (Channels' session wrapper);
# bounded so a cycle can never loop.
_MAX_WRAPPERS = 8
_announced = False
_announced_off = False


def _frame(first_byte: int, payload: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        head = _SHORT.pack(first_byte, length)
    elif length <= 0xFFFF:
        head = _MEDIUM.pack(first_byte, 126, length)
    else:
        head = _LONG.pack(first_byte, 127, length)
    return head + payload


def encode_text_frame(text: str) -> bytes:
    """One unfragmented, unmasked websocket text frame carrying ``text``."""
    return _frame(_FIN_TEXT, text.encode())


def encode_deflated_text_frame(text: str) -> bytes:
    """The same message compressed on its own (RFC 7692 §7.2.1: raw deflate, sync flush, the
    trailing 00 00 ff ff removed), valid for any socket that agreed to no server context takeover."""
    compressor = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -_DEFLATE_WINDOW_BITS)
    payload = compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return _frame(_FIN_TEXT_COMPRESSED, payload.removesuffix(_SYNC_FLUSH_TAIL))


class PreparedFrame:
    """A frame's text with its wire forms, each built at most once for all sockets."""

    __slots__ = ("text", "_plain", "_deflated")

    def __init__(self, text: str) -> None:
        self.text = text
        self._plain: bytes | None = None
        self._deflated: bytes | None = None

    def plain(self) -> bytes:
        if self._plain is None:
            self._plain = encode_text_frame(self.text)
        return self._plain

    def deflated(self) -> bytes:
        if self._deflated is None:
            self._deflated = encode_deflated_text_frame(self.text)
        return self._deflated


class DirectWriter:
    """Writes pre-framed bytes to one Daphne websocket connection."""

    __slots__ = ("protocol", "transport", "max_unsent", "_open", "_ground")

    def __init__(self, protocol: Any, transport: Any, max_unsent: int = 0) -> None:
        self.protocol = protocol
        self.transport = transport
        self.max_unsent = max_unsent  # 0: no bound
        self._open = type(protocol).STATE_OPEN
        self._ground = type(protocol).SEND_STATE_GROUND

    def unsent(self) -> int:
        """Bytes Twisted holds for this socket that the kernel has not taken yet."""
        transport = self.transport
        return transport._tempDataLen + len(transport.dataBuffer) - transport.offset

    def write(self, prepared: PreparedFrame) -> bool:
        """Write the frame now; False if the caller must send it through Channels instead.

        True also when the socket is dropped for a backlog past ``max_unsent`` (the frame is
        then discarded with the rest of the socket's bytes)."""
        protocol = self.protocol
        if protocol.state != self._open or protocol.send_state != self._ground or protocol.send_queue:
            return False
        compression = protocol._perMessageCompress
        if compression is None:
            frame = prepared.plain()
        elif _shares_deflate(compression):
            frame = prepared.deflated()
        else:
            return False  # some other negotiation: autobahn compresses per socket
        transport = self.transport
        if not transport.connected or transport.disconnecting:
            return False
        backlog = self.unsent()
        if backlog:
            if self.max_unsent and backlog > self.max_unsent:
                self._drop(backlog)
                return True
            transport.write(frame)  # keep the order behind what is already queued
            sent = len(frame)
        else:
            sent = _send_now(transport, frame)
        if sent < len(frame):
            transport.write(frame[sent:])
        if not _announced:
            _announce()
        return True

    def _drop(self, backlog: int) -> None:
        peer = getattr(self.protocol, "peer", "?")
        log.warning(
            "live socket %s: %d bytes unsent (bound %d, WEIR_LIVE_MAX_UNSENT_BYTES): dropping the "
            "connection; the browser reconnects and fetches fresh snapshots",
            peer,
            backlog,
            self.max_unsent,
        )
        # autobahn's own teardown: state CLOSED at once (later writes fall back to Channels,
        # which Daphne ignores for a closed socket), Twisted discards the buffer and the
        # consumer's disconnect follows.
        self.protocol.dropConnection(abort=True)


def _shares_deflate(compression: Any) -> bool:
    """Whether this socket's permessage-deflate takes the shared, independently deflated bytes."""
    deflate = sys.modules.get("autobahn.websocket.compress_deflate")
    return (
        deflate is not None
        and isinstance(compression, deflate.PerMessageDeflate)
        and compression.server_no_context_takeover
        and compression.server_max_window_bits == _DEFLATE_WINDOW_BITS
    )


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


def _announce_off() -> None:
    global _announced_off
    _announced_off = True
    log.info("live sockets: direct writes are off (WEIR_LIVE_DIRECT_WRITE); frames go through Channels")


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
    """A writer for an accepted consumer's socket, or None where only Channels' send is safe
    (or wanted: ``settings.LIVE_DIRECT_WRITE``)."""
    if not settings.LIVE_DIRECT_WRITE:
        if not _announced_off:
            _announce_off()
        return None
    try:
        protocol = _daphne_protocol(getattr(consumer, "base_send", None))
        if protocol is None:
            return None
        transport = protocol.transport
        tcp = sys.modules.get("twisted.internet.tcp")
        if tcp is None or not isinstance(transport, tcp.Connection) or getattr(transport, "TLS", False):
            return None
        for name in ("state", "send_state", "send_queue", "_perMessageCompress", "dropConnection"):
            getattr(protocol, name)
        for name in ("socket", "connected", "disconnecting", "_tempDataLen", "offset", "dataBuffer"):
            getattr(transport, name)
        type(protocol).STATE_OPEN, type(protocol).SEND_STATE_GROUND  # noqa: B018 - must exist
    except Exception:  # internals moved: fall back, and say so once
        log.warning("live sockets: Daphne internals not as expected; sending through Channels", exc_info=True)
        return None
    return DirectWriter(protocol, transport, max_unsent=settings.LIVE_MAX_UNSENT_BYTES)


def _accept_deflate(offers: list[Any]) -> Any:
    """Accept the client's permessage-deflate offer with server_no_context_takeover (RFC 7692
    lets a server add it to any offer), so each message is compressed on its own."""
    from autobahn.websocket.compress_deflate import PerMessageDeflateOffer, PerMessageDeflateOfferAccept

    class IndependentMessages(PerMessageDeflateOfferAccept):
        def get_extension_string(self) -> str:
            # autobahn announces the parameter only when the client asked for it.
            text = super().get_extension_string()
            return text if "server_no_context_takeover" in text else text + "; server_no_context_takeover"

    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return IndependentMessages(offer, no_context_takeover=True)
    return None


def install() -> bool:
    """Under Daphne, accept permessage-deflate on websockets (see the module docstring), unless
    direct writes are off; called once from config/asgi.py. Autobahn gives an option set on the
    protocol class precedence over the factory's (WebSocketProtocol._connectionMade), and
    Daphne builds its factory without it."""
    ws_module = sys.modules.get("daphne.ws_protocol")
    if ws_module is None or not settings.LIVE_DIRECT_WRITE:
        return False
    ws_module.WebSocketProtocol.perMessageCompressionAccept = staticmethod(_accept_deflate)
    return True
