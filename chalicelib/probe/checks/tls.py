"""TLS for the probe: one cached SSL context per (verify_tls, ca_bundle), and the served
certificate's expiry read from the connection that carried the request (no second handshake)."""

from __future__ import annotations

import functools
import ssl
import time
from calendar import timegm
from typing import Optional

import certifi


@functools.lru_cache(maxsize=32)
def ssl_context(verify_tls: bool, ca_bundle: Optional[str]) -> ssl.SSLContext:
    """Built once per pair: loading a CA bundle costs milliseconds, far more than a probe."""
    if verify_tls:
        context = ssl.create_default_context(cafile=ca_bundle or certifi.where())
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


def not_after(tls: ssl.SSLObject) -> Optional[float]:
    """The peer certificate's notAfter (epoch seconds), verified or not; None without one.

    An unverified peer's `getpeercert()` is empty, so its expiry is read from the DER bytes.
    """
    der = tls.getpeercert(binary_form=True)
    if not der:
        return None
    return der_not_after(der)


def seconds_left(expiry: Optional[float]) -> Optional[float]:
    return None if expiry is None else expiry - time.time()


@functools.lru_cache(maxsize=1024)
def der_not_after(der: bytes) -> float:
    """notAfter (epoch seconds) of a DER certificate, with a minimal DER walk.

    Cached by the certificate's bytes: a server presents the same one on every connection, and
    strptime cost more than the rest of reading an answer (a tenth of an HTTPS cycle's CPU).

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
