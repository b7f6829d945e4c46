"""TLS for a probe connection: OpenSSL's `SSLObject` over memory buffers, fed by the connection.

OpenSSL does all of TLS (handshake, verification, records); this only moves bytes between the
socket and the `SSLObject`. Not asyncio's SSL transport: it allocates a 256 KiB buffer per
connection (about 0.15 ms of page faults and zeroing, a fifth of a handshake's CPU) and cannot
offer a session to resume. Here a connection may resume a session the same cycle already
verified on the same endpoint (see `sessions.Sessions`). Client CPU, OpenSSL 3.0, ECDSA P-256,
SSL object included: 0.57 ms full, 0.48 ms resumed, since Python's `ssl` copies an offered
session through DER (certificate included, 0.19 ms); the server is spared its full handshake.

>>> layer = TlsLayer(ssl_context(True, None), "example.com", session=None)  # doctest: +SKIP
>>> first_flight = layer.start()  # doctest: +SKIP
"""

from __future__ import annotations

import ssl
from typing import Callable, Optional

READ_SIZE = 64 * 1024  # plaintext taken from OpenSSL per call


class TlsLayer:
    """One client TLS session in memory: `receive` takes socket bytes, `encrypt` makes them.

    Every method returns the bytes OpenSSL wants sent (possibly b""); the caller writes them.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        host: str,
        session: Optional[ssl.SSLSession],
        keep: Optional[Callable[[TlsLayer], None]] = None,
    ) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.ssl_object = context.wrap_bio(
            self._incoming, self._outgoing, server_hostname=host, session=session
        )
        self.handshaken = False
        # Told once, on the first records after the handshake (TLS 1.3 tickets follow it).
        self._keep = None if session is not None else keep
        self.closed = False  # the peer sent close_notify

    def start(self) -> bytes:
        """The ClientHello."""
        self._handshake()
        return self._outgoing.read()

    def receive(self, data: bytes) -> tuple[bytes, bytes]:
        """(plaintext, bytes to send) after `data` from the socket; raises ssl.SSLError on a
        failed handshake (certificate verification included) or a corrupt record."""
        self._incoming.write(data)
        if not self.handshaken:
            self._handshake()
            plain = self._read() if self.handshaken else b""
        else:
            plain = self._read()
            if self._keep is not None:
                self._keep(self)
                self._keep = None
        return plain, self._outgoing.read()

    def encrypt(self, data: bytes) -> bytes:
        self.ssl_object.write(data)
        return self._outgoing.read()

    def _handshake(self) -> None:
        try:
            self.ssl_object.do_handshake()
        except ssl.SSLWantReadError:
            return
        self.handshaken = True

    def resumable(self) -> Optional[ssl.SSLSession]:
        """The session, if a ticket came with it. Costly (OpenSSL copies it, certificate
        included, about 0.2 ms): asked once per endpoint and cycle, not per connection."""
        session = self.ssl_object.session
        return session if session is not None and session.has_ticket else None

    def _read(self) -> bytes:
        """All plaintext OpenSSL can give now (session tickets are consumed on the way)."""
        pieces = []
        while True:
            try:
                piece = self.ssl_object.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.closed = True
                break
            if not piece:
                self.closed = True
                break
            pieces.append(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)
