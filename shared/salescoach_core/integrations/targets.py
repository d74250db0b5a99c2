"""Where webhooks may be sent: the rules a subscription URL follows and the address policy
against server-side request forgery, checked at subscription and again before every request."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from dataclasses import dataclass

import httpx

from salescoach_core.integrations.errors import InvalidWebhookError, WebhookUrlNotAllowedError

MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63
ALLOW_PRIVATE_SETTING = "SALESCOACH_WEBHOOK_ALLOW_PRIVATE_TARGETS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 3986 section 2: unreserved and reserved characters, and "%" only as a percent-encoding.
# Anything else (spaces, CR/LF and other controls, non-ASCII) is refused rather than encoded,
# so the URL stored is the URL sent.
_URI_CHARACTER = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2}")
# RFC 1123 host name labels; "_" too, which DNS carries and internal names use.
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _invalid_url(detail: str) -> InvalidWebhookError:
    return InvalidWebhookError(detail, field="url")


def _url_not_allowed(detail: str) -> WebhookUrlNotAllowedError:
    return WebhookUrlNotAllowedError(detail, field="url")


# Never reachable through the setting: cloud metadata services live on link-local addresses,
# and the others are not unicast hosts at all.
_ALWAYS_REFUSED = frozenset({"unspecified", "multicast", "link-local", "reserved"})


@dataclass(frozen=True)
class WebhookTarget:
    """A URL that follows the rules, as httpx (the client that sends it) parses it."""

    url: httpx.URL
    host: str
    port: int
    literal: IPAddress | None

    @property
    def authority(self) -> str:
        """The `Host` header: the host as written, with the port when it is not the default."""
        return self.url.netloc.decode("ascii")

    def url_at(self, address: IPAddress) -> httpx.URL:
        """The same URL with the host replaced by one of its checked addresses."""
        return self.url.copy_with(host=str(address))


def parse_webhook_url(url: str) -> WebhookTarget:
    """Check a subscription URL's syntax; raise InvalidWebhookError saying what to fix."""
    if len(url) > MAX_URL_LENGTH:
        raise _invalid_url(f"`url` is {len(url)} characters long; at most {MAX_URL_LENGTH} are allowed.")
    position = 0
    while position < len(url):
        match = _URI_CHARACTER.match(url, position)
        if match is None:
            raise _invalid_url(
                f"`url` holds {url[position]!r} at position {position}: only the characters of "
                "RFC 3986 are allowed (no spaces, control characters or non-ASCII; percent-encode "
                "them in the path and write international host names in their xn-- form)."
            )
        position = match.end()
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise _invalid_url(f"`url` is not a valid URL: {exc}") from exc
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.raw_host:
        raise _invalid_url("`url` must be an absolute http:// or https:// URL with a host.")
    host = parsed.raw_host.decode("ascii").lower()
    literal: IPAddress | None = None
    if parsed.netloc.startswith(b"[") or _looks_numeric(host):
        literal = _ip_literal(host)
    else:
        _check_host_name(host)
    port = parsed.port if parsed.port is not None else _DEFAULT_PORTS[parsed.scheme]
    if not 1 <= port <= 65535:
        raise _invalid_url(f"`url` has port {port}; a port is 1 to 65535.")
    return WebhookTarget(url=parsed, host=host, port=port, literal=literal)


def _looks_numeric(host: str) -> bool:
    # The last label of a host name is never all digits (RFC 3696 section 2), so such a host is
    # an IPv4 address; C resolvers also read "127.1" or "2130706433" as one.
    return host.rstrip(".").rsplit(".", 1)[-1].isdigit() or _is_inet_aton(host)


def _is_inet_aton(host: str) -> bool:
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _ip_literal(host: str) -> IPAddress:
    address = _parse_address(host)
    if address is None:
        raise _invalid_url(
            f"`url` has host {host[:100]!r}, which is not an IP address in standard form: write "
            "IPv4 as four decimal numbers (192.0.2.10) and IPv6 in brackets without a zone "
            "([2001:db8::10])."
        )
    return address


def _parse_address(host: str) -> IPAddress | None:
    # A zone ("%25eth0") names an interface of this machine, never a receiver's address.
    if "%" in host:
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_host_name(host: str) -> None:
    name = host.removesuffix(".")
    if len(name) > MAX_HOST_LENGTH:
        raise _invalid_url(
            f"`url` has a host of {len(name)} characters; a host name has at most {MAX_HOST_LENGTH}."
        )
    for label in name.split("."):
        if len(label) > MAX_LABEL_LENGTH:
            raise _invalid_url(
                f"`url` has a host label of {len(label)} characters; a label has at most {MAX_LABEL_LENGTH}."
            )
        if not _LABEL.fullmatch(label):
            raise _invalid_url(
                f"`url` has host {name[:100]!r}: a host name is dot-separated labels of letters, "
                "digits, '-' and '_', not starting or ending with '-'."
            )


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why webhooks may not go to `address` (its kind, e.g. "loopback"), or None when they may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:a.b.c.d is how an IPv6 socket reaches the IPv4 address a.b.c.d.
        address = address.ipv4_mapped
    kind = _kind(address)
    if kind is None or (allow_private and kind not in _ALWAYS_REFUSED):
        return None
    return kind


def _kind(address: IPAddress) -> str | None:
    # Order matters: the categories overlap (169.254.0.0/16 is also "private", ::1 "reserved").
    checks = (
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("link-local", address.is_link_local),
        ("loopback", address.is_loopback),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    )
    return next((kind for kind, matches in checks if matches), None)


def resolve(target: WebhookTarget, *, allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to, each allowed by the policy: the host itself when it is an
    address, else every address its name resolves to now. One refused address refuses the
    target, so a name cannot pair a public address with an internal one. Raises OSError when
    the name does not resolve, WebhookUrlNotAllowedError when an address is refused."""
    if target.literal is not None:
        addresses = [target.literal]
    else:
        found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
    for address in addresses:
        kind = refusal(address, allow_private=allow_private)
        if kind is not None:
            host = target.host if target.literal is None else None
            raise _url_not_allowed(_refusal_detail(address, host, kind))
    return addresses


def _refusal_detail(address: IPAddress, host: str | None, kind: str) -> str:
    where = f"{host} resolves to {address}" if host is not None else str(address)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        where += f" (IPv4 {address.ipv4_mapped})"
    article = "an" if kind[0] in "aeiou" else "a"
    if kind in _ALWAYS_REFUSED:
        return f"`url` is not allowed: {where}, {article} {kind} address, never receives webhooks."
    return (
        f"`url` is not allowed: {where}, {article} {kind} address. Webhooks go to public addresses "
        f"only, unless {ALLOW_PRIVATE_SETTING}=true (for receivers on an internal network)."
    )


def check_webhook_url(url: str, *, allow_private: bool) -> WebhookTarget:
    """The check at subscription: the syntax, then the policy on the host's addresses.

    A name that does not resolve yet is accepted: its receiver may not be deployed, and every
    delivery resolves and checks again before it connects. A user name or password in the URL is
    refused: it would be kept and listed in clear; receivers check the signature instead."""
    target = parse_webhook_url(url)
    if target.url.userinfo:
        raise _invalid_url(
            "`url` carries a user name or password (`user:password@`): it would be stored and "
            "listed in clear. Remove it; a receiver authenticates deliveries by their signature "
            "(docs/integrations.md, 'Signatures')."
        )
    with contextlib.suppress(OSError):
        resolve(target, allow_private=allow_private)
    return target
