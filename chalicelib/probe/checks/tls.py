"""How long a server's TLS certificate stays valid: a separate handshake with `ssl`."""

from __future__ import annotations

import socket
import ssl
import time
from calendar import timegm

import certifi

from chalicelib.config.model import Monitor
from chalicelib.probe.checks import watchdog


def certificate_seconds_left(host: str, port: int, monitor: Monitor, timeout: float) -> float:
    """Seconds until the served certificate's notAfter; raises OSError/ssl.SSLError.

    Verifies against `monitor.ca_bundle` (or certifi) unless `verify_tls` is off; then
    the expiry is read from the raw certificate, since `getpeercert()` is empty.
    """
    context = _context(monitor)
    with socket.create_connection((host, port), timeout=timeout) as raw:
        timer = watchdog.current()
        if timer:
            timer.watch(raw)  # bounds a handshake that trickles
        with context.wrap_socket(raw, server_hostname=host) as tls:
            if context.verify_mode == ssl.CERT_NONE:
                not_after = der_not_after(tls.getpeercert(binary_form=True) or b"")
            else:
                not_after = ssl.cert_time_to_seconds(str(tls.getpeercert()["notAfter"]))
    return not_after - time.time()


def _context(monitor: Monitor) -> ssl.SSLContext:
    if not monitor.verify_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=monitor.ca_bundle or certifi.where())


def der_not_after(der: bytes) -> float:
    """notAfter (epoch seconds) of a DER certificate, with a minimal DER walk.

    Certificate ::= SEQ { tbs SEQ { [0] version?, serial, sigAlg, issuer, validity, ...} }
    """
    tbs, _ = _header(der, 0)  # into Certificate
    pos, _ = _header(der, tbs)  # into TBSCertificate
    if der[pos] == 0xA0:  # explicit version tag
        pos = _skip(der, pos)
    for _ in range(3):  # serial, signature algorithm, issuer
        pos = _skip(der, pos)
    validity, _ = _header(der, pos)
    not_after_at = _skip(der, validity)  # past notBefore
    return _der_time(der, not_after_at)


def _header(der: bytes, pos: int) -> tuple[int, int]:
    """(start of content, content length) of the TLV at `pos`."""
    length = der[pos + 1]
    if length < 0x80:
        return pos + 2, length
    size = length & 0x7F
    return pos + 2 + size, int.from_bytes(der[pos + 2 : pos + 2 + size], "big")


def _skip(der: bytes, pos: int) -> int:
    start, length = _header(der, pos)
    return start + length


def _der_time(der: bytes, pos: int) -> float:
    start, length = _header(der, pos)
    text = der[start : start + length].decode("ascii")
    if der[pos] == 0x17:  # UTCTime: YYMMDDHHMMSSZ
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    parsed = time.strptime(text, "%Y%m%d%H%M%SZ")
    return float(timegm(parsed))
