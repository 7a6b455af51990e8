"""Outbound calls: which addresses the service may reach, and connections pinned to them.

Callers name the URLs our webhooks go to, so without a check they could make the service
knock on its own loopback, the private network or a cloud metadata address, and read the
answer off `/activity`. Every callback URL is checked twice: when a request names it
(`check_url`, a 422; each host's verdict kept a minute) and again when a delivery connects
(`connect`), which resolves the host once, checks every address and connects to the checked
one, so a DNS answer that changes in between (rebinding) cannot swap it. TLS is still
verified against the URL's host name.

`OUTBOUND_ALLOW_HOSTS` (host names or addresses) lets named hosts through, for development
and tests whose receiver listens on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

from cachetools import TTLCache
from flask import current_app, has_app_context

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# NAT64 (RFC 6052) embeds an IPv4 address; what it reaches is that address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
REFUSED_REASON = ("must not point at a loopback, private, link-local, multicast or reserved "
                  "address (OUTBOUND_ALLOW_HOSTS lets named hosts through, for development)")


class AddressRefused(Exception):
    """The host is, or resolves to, an address outside the public internet."""


def allow_list(value: str | Iterable[str] | None = None) -> frozenset[str]:
    """OUTBOUND_ALLOW_HOSTS as lower-case host names and canonical addresses."""
    if value is None:
        value = current_app.config.get("OUTBOUND_ALLOW_HOSTS") if has_app_context() else None
    if isinstance(value, str):
        value = value.split(",")
    return frozenset(_canonical(entry) for entry in value or () if entry.strip())


def _canonical(host: str) -> str:
    host = host.strip().lower().removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.rstrip(".")


def is_public(address: IPAddress) -> bool:
    """True only for a unicast address of the public internet, in IPv4 or IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_loopback
        or address.is_link_local or address.is_private or address.is_unspecified
    )


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to now (a literal address resolves to itself)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # The scope of a link-local IPv6 address (`%eth0`) is cut: those are refused anyway.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


def checked_addresses(host: str, port: int, allowed: frozenset[str] | None = None) -> list[IPAddress]:
    """The addresses of `host`, all of them allowed, or AddressRefused. A resolver failure
    (OSError) is left to the caller."""
    allowed = allow_list() if allowed is None else allowed
    addresses = resolve(host, port)
    if _canonical(host) in allowed:
        return addresses
    if not addresses or any(not is_public(a) and str(a) not in allowed for a in addresses):
        raise AddressRefused(f"{host} resolves to {', '.join(map(str, addresses)) or 'nothing'}")
    return addresses


def check_url(url: str) -> None:
    """At request time: ValueError (its reason for the caller) when the URL's host is or
    resolves to a refused address. A name that does not resolve now is let through: it reaches
    nothing, and `connect` checks it again.

    Each host's verdict is kept CHECK_SECONDS per app: upstream's callbacks name a few hosts
    again and again, and a render should not wait on the resolver each time (a slow or absent
    one made every appointment's validation wait 100 ms here). `connect` resolves afresh, so
    a kept verdict never decides what a delivery reaches."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or _default_port(parts.scheme)
    allowed = allow_list()
    verdicts = _verdicts()
    key = (host, port, allowed)
    with _VERDICTS_LOCK:
        refused = verdicts.get(key)
    if refused is None:
        refused = _refused(host, port, allowed)
        with _VERDICTS_LOCK:
            verdicts[key] = refused
    if refused:
        raise ValueError(REFUSED_REASON)


# How long a request-time verdict on a callback host is kept.
CHECK_SECONDS = 60.0
_VERDICTS_LOCK = threading.Lock()
_VERDICTS = "touchpoint.outbound_verdicts"


def _verdicts() -> TTLCache[tuple[str, int, frozenset[str]], bool]:
    """This app's kept verdicts (a throwaway cache outside an app context)."""
    if not has_app_context():
        return TTLCache(maxsize=1, ttl=CHECK_SECONDS)
    with _VERDICTS_LOCK:
        verdicts = current_app.extensions.get(_VERDICTS)
        if verdicts is None:  # made once per app, not at every check
            verdicts = current_app.extensions[_VERDICTS] = TTLCache(maxsize=1024, ttl=CHECK_SECONDS)
        return verdicts


def _refused(host: str, port: int, allowed: frozenset[str]) -> bool:
    try:
        checked_addresses(host, port, allowed)
    except AddressRefused:
        return True
    except (OSError, UnicodeError):
        return False
    return False


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to `address`, while the Host header names the URL's host."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to `address`, with the certificate verified against the URL's host name."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((str(self.address), self.port), self.timeout)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def connect(url: str, timeout: float) -> http.client.HTTPConnection:
    """A connection for `url` to its first checked address (not yet open: the request opens
    it). AddressRefused for a refused host; OSError when it does not resolve."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or _default_port(parts.scheme)
    address = checked_addresses(host, port)[0]
    if parts.scheme == "https":
        return _PinnedHTTPSConnection(host, port, address, timeout)
    return _PinnedHTTPConnection(host, port, address, timeout)
