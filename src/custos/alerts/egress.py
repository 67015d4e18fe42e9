"""Where alert webhooks may go: the guard against server-side request forgery (SSRF).

A webhook URL is typed by a store or region manager, and the worker that sends it sits inside the
company's network, next to the database, Redis and (in a cloud) the instance metadata service at
169.254.169.254. So a URL is checked when it is saved and again at every delivery, because what a
name resolves to can change between the two:

- only http and https;
- every address the host resolves to must be public. Refused, each with its reason: unspecified
  (0.0.0.0, ::), loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16 — the cloud metadata
  service —, fe80::/10), multicast, private (RFC 1918, 100.64.0.0/10, fc00::/7) and every other
  reserved or not globally routable range (0.0.0.0/8, 240.0.0.0/4, documentation ranges, ...).
  One refused address refuses the URL: a name answering both a public and a private address
  must not reach the private one on a second try;
- the connection goes to the addresses just checked (the request keeps the host name for TLS and
  the Host header), so DNS cannot answer differently between the check and the connect;
- redirects are not followed (a 3xx is a failed attempt), and no proxy from the environment is
  used: the checked address is the one connected to.

Companies that run their receiver inside their own network allow it explicitly:
CUSTOS_WEBHOOK_ALLOW_PRIVATE=true allows the private ranges, and CUSTOS_WEBHOOK_ALLOW_NETWORKS
(comma-separated CIDRs, e.g. 10.20.0.0/16,127.0.0.1/32) allows exactly the networks listed,
whatever their kind.
"""

import functools
import http.client
import ipaddress
import socket
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from custos.core.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

KINDS = {
    "unspecified": gettext_lazy("unspecified"),
    "loopback": gettext_lazy("loopback"),
    "link-local": gettext_lazy("link-local"),
    "metadata": gettext_lazy("cloud metadata service"),
    "multicast": gettext_lazy("multicast"),
    "private": gettext_lazy("private network"),
    "reserved": gettext_lazy("reserved (not publicly routable)"),
}
PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(InvalidInput):
    """The URL leads to an address webhooks may not reach; a 400 when saving, a final failure when sending."""

    code = "webhook_refused"


class Unresolvable(Exception):
    """The host name has no address now: at delivery time that is a failure retried later."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    addresses: tuple[str, ...]


def kind_of(address: Address) -> str | None:
    """The refused kind an address belongs to, or None for a public address."""
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return kind_of(embedded)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address in METADATA:
        return "metadata"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if any(address in network for network in PRIVATE if network.version == address.version):
        return "private"
    if address.is_reserved or not address.is_global or getattr(address, "is_site_local", False):
        return "reserved"
    return None


def allowed_networks() -> list[Network]:
    """CUSTOS_WEBHOOK_ALLOW_NETWORKS, parsed; an entry that is no network is left out (custos check names it)."""
    raw = getattr(settings, "CUSTOS_WEBHOOK_ALLOW_NETWORKS", []) or []
    if isinstance(raw, str):
        raw = raw.split(",")
    networks = []
    for item in raw:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            continue
    return networks


def invalid_networks() -> list[str]:
    raw = getattr(settings, "CUSTOS_WEBHOOK_ALLOW_NETWORKS", []) or []
    if isinstance(raw, str):
        raw = raw.split(",")
    bad = []
    for item in raw:
        try:
            ipaddress.ip_network(str(item).strip(), strict=False)
        except ValueError:
            bad.append(str(item))
    return bad


def permitted(address: Address) -> str | None:
    """None if a webhook may connect to the address, else the kind that refuses it."""
    kind = kind_of(address)
    if kind is None:
        return None
    if kind == "private" and getattr(settings, "CUSTOS_WEBHOOK_ALLOW_PRIVATE", False):
        return None
    plain = address.ipv4_mapped if address.version == 6 and address.ipv4_mapped else address
    if any(plain in network for network in allowed_networks() if network.version == plain.version):
        return None
    return kind


def _refused(host: str, address: str, kind: str) -> Refused:
    return Refused(
        _(
            "Webhooks may not be sent to %(host)s: it resolves to %(address)s, a %(kind)s address. "
            "If the receiver really is inside your network, an operator can allow it with "
            "CUSTOS_WEBHOOK_ALLOW_PRIVATE or CUSTOS_WEBHOOK_ALLOW_NETWORKS."
        )
        % {"host": host, "address": address, "kind": KINDS[kind]}
    )


def target_of(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL; anything else is refused (at delivery too, where no 400 is possible)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        parts = port = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(_("A webhook URL starts with https:// (or http://) and names a host."))
    return parts.hostname, port


def resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"{host} does not resolve ({exc})") from None
    seen: dict[str, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(sockaddr[0].split("%", 1)[0], None)
    if not seen:
        raise Unresolvable(f"{host} does not resolve")
    return tuple(seen)


def vet(url: str) -> Target:
    """Resolve the URL's host and check every address; Refused or Unresolvable, else where to connect."""
    host, port = target_of(url)
    addresses = resolve(host, port)
    for text in addresses:
        kind = permitted(ipaddress.ip_address(text))
        if kind is not None:
            raise _refused(host, text, kind)
    return Target(host, port, addresses)


def vet_on_save(url: str) -> None:
    """The check when a webhook is saved. A name that does not resolve now is accepted: every
    delivery resolves and checks it again, and a receiver's DNS may be briefly unreachable."""
    try:
        vet(url)
    except Unresolvable:
        return


# --- connecting to the checked addresses ------------------------------------------------------


def _connect_any(
    addresses: tuple[str, ...], address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None
):
    """socket.create_connection to the first checked address that answers (the port is the URL's)."""
    _host, port = address
    error: OSError | None = None
    for ip in addresses:
        try:
            return socket.create_connection((ip, port), timeout, source_address)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, addresses: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(_connect_any, addresses)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address; the certificate is still verified against the URL's host name (SNI)."""

    def __init__(self, *args, addresses: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(_connect_any, addresses)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, addresses: tuple[str, ...]):
        super().__init__()
        self.addresses = addresses

    def http_open(self, req):
        return self.do_open(functools.partial(_PinnedHTTPConnection, addresses=self.addresses), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, addresses: tuple[str, ...], context=None):
        super().__init__(context=context)
        self.addresses = addresses

    def https_open(self, req):
        return self.do_open(
            functools.partial(_PinnedHTTPSConnection, addresses=self.addresses), req, context=self._context
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx comes back as an HTTPError: a failed attempt


def opener(target: Target, tls=None) -> urllib.request.OpenerDirector:
    """An opener that connects only to the target's checked addresses, with no proxy and no redirects.

    `tls` is an ssl.SSLContext (default: the system's trusted CAs, host names checked).
    """
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirect(),
        _PinnedHTTPHandler(target.addresses),
        _PinnedHTTPSHandler(target.addresses, context=tls),
    )
