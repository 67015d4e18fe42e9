"""The SSRF guard on webhooks: refused on save and at delivery, allowed only by the operator's settings.

The test settings allow loopback (127.0.0.0/8, ::1) so the webhook tests can use real receiver on
this machine; these tests take that away (pytest-django's `settings`) to see each refusal.
"""

import ipaddress
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from custos.alerts import delivery, egress, services
from custos.alerts.checks import webhook_settings
from custos.alerts.models import Delivery, Webhook
from custos.ledger.models import Entry

from .test_webhooks import Receiver, _raise

REFUSED = [
    ("http://127.0.0.1:8080/hook", "127.0.0.1", "loopback"),
    ("http://localhost/hook", None, "loopback"),  # a name: what it resolves to is checked
    ("http://2130706433/hook", "127.0.0.1", "loopback"),  # 127.0.0.1 spelled as a number
    ("http://[::1]/hook", "::1", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "metadata"),
    ("http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254", "metadata"),
    ("http://169.254.10.1/hook", "169.254.10.1", "link-local"),
    ("http://[fe80::1]/hook", "fe80::1", "link-local"),
    ("http://10.0.0.5/hook", "10.0.0.5", "private"),
    ("https://172.16.3.4/hook", "172.16.3.4", "private"),
    ("http://192.168.1.10:8000/hook", "192.168.1.10", "private"),
    ("http://[fd00::1]/hook", "fd00::1", "private"),
    ("http://224.0.0.1/hook", "224.0.0.1", "multicast"),
    ("http://[ff02::1]/hook", "ff02::1", "multicast"),
    ("http://0.0.0.0/hook", "0.0.0.0", "unspecified"),
    ("http://[::]/hook", "::", "unspecified"),
    ("http://240.0.0.1/hook", "240.0.0.1", "reserved"),
    ("http://192.0.2.7/hook", "192.0.2.7", "reserved"),  # documentation range
]


@pytest.fixture
def strict(settings):
    """The production default: nothing internal allowed."""
    settings.CUSTOS_WEBHOOK_ALLOW_PRIVATE = False
    settings.CUSTOS_WEBHOOK_ALLOW_NETWORKS = []
    return settings


def _create(client, company, url, **extra):
    body = {"unit_id": company.hq.pk, "name": "SIEM", "kind": "generic", "url": url, "secret": "k", **extra}
    return client.post("webhooks", body)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
        ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"), ("64:ff9b::a9fe:a9fe", "metadata"),
        ("169.254.0.1", "link-local"), ("fe80::abcd", "link-local"),
        ("10.255.0.1", "private"), ("172.31.255.255", "private"), ("192.168.0.1", "private"),
        ("100.64.1.1", "private"), ("fc00::5", "private"), ("::ffff:10.0.0.1", "private"),
        ("2002:c0a8:0101::1", "private"),  # 6to4 wrapping 192.168.1.1
        ("224.0.0.251", "multicast"), ("239.1.1.1", "multicast"), ("ff05::2", "multicast"),
        ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("0.1.2.3", "reserved"),
        ("198.18.0.1", "reserved"), ("2001:db8::1", "reserved"),
        ("8.8.8.8", None), ("203.119.1.1", None), ("2606:4700:4700::1111", None),
    ],
)  # fmt: skip
def test_every_address_kind(address, kind):
    assert egress.kind_of(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(("url", "address", "kind"), REFUSED)
def test_refused_on_save_through_the_api(strict, company, api, url, address, kind):
    r = _create(api(company.admin), company, url)
    assert r.status_code == 400, r.content
    body = r.json()
    assert body["error"] == "webhook_refused"
    assert (address or "127.0.0.1") in body["message"] or "::1" in body["message"]
    assert "CUSTOS_WEBHOOK_ALLOW_NETWORKS" in body["message"]
    assert str(egress.KINDS[kind]) in body["message"]
    assert not Webhook.objects.exists() and not Entry.objects.filter(kind="alert.webhook_created").exists()


def test_only_http_and_https(strict, company, api):
    client = api(company.admin)
    for url in (
        "ftp://8.8.8.8/x",
        "file:///etc/passwd",
        "gopher://8.8.8.8/",
        "http:///nohost",
        "http://8.8.8.8:99999/",
    ):
        r = _create(client, company, url)
        assert r.status_code == 400 and r.json()["error"] == "invalid", url
    assert not Webhook.objects.exists()


def test_public_and_not_yet_resolvable_hosts_are_saved(strict, company, api):
    client = api(company.admin)
    assert _create(client, company, "https://8.8.8.8/hook").status_code == 201
    assert _create(client, company, "https://[2606:4700:4700::1111]/hook").status_code == 201
    # .invalid never resolves (RFC 2606): nothing to refuse yet; every delivery checks again.
    assert _create(client, company, "https://receiver.invalid/hook").status_code == 201
    assert Webhook.objects.count() == 3


def test_allow_private_lets_private_networks_only(strict, company, api):
    strict.CUSTOS_WEBHOOK_ALLOW_PRIVATE = True
    client = api(company.admin)
    for url in (
        "http://10.0.0.5/hook",
        "http://192.168.1.10:8000/hook",
        "http://[fd00::1]/hook",
        "http://100.64.0.9/",
    ):
        assert _create(client, company, url).status_code == 201, url
    for url in ("http://127.0.0.1/hook", "http://169.254.169.254/", "http://[fe80::1]/", "http://224.0.0.1/"):
        assert _create(client, company, url).status_code == 400, url


def test_allow_networks_lets_exactly_those(strict, company, api):
    strict.CUSTOS_WEBHOOK_ALLOW_NETWORKS = ["10.1.0.0/16", "169.254.169.254/32", "fd00:1::/32"]
    client = api(company.admin)
    for url in ("http://10.1.2.3/hook", "http://169.254.169.254/hook", "http://[fd00:1::7]/hook"):
        assert _create(client, company, url).status_code == 201, url
    for url in (
        "http://10.2.0.1/hook",
        "http://169.254.169.253/hook",
        "http://[fd00:2::7]/",
        "http://127.0.0.1/",
    ):
        assert _create(client, company, url).status_code == 400, url
    strict.CUSTOS_WEBHOOK_ALLOW_NETWORKS = "10.9.0.0/16, 127.0.0.0/8"  # the environment's comma form too
    assert _create(client, company, "http://10.9.1.1/hook").status_code == 201
    assert _create(client, company, "http://127.0.0.1/hook").status_code == 201


def test_a_bad_allow_list_is_named_by_custos_check(settings):
    settings.CUSTOS_WEBHOOK_ALLOW_NETWORKS = ["10.0.0.0/8", "intranet"]
    errors = webhook_settings()
    assert len(errors) == 1 and "'intranet'" in errors[0].msg and errors[0].id == "custos.alerts.E001"
    # The entry that is no network allows nothing; the valid one still applies.
    assert egress.permitted(ipaddress.ip_address("10.3.3.3")) is None
    assert egress.permitted(ipaddress.ip_address("192.168.3.3")) == "private"
    settings.CUSTOS_WEBHOOK_ALLOW_NETWORKS = ["10.0.0.0/8"]
    assert webhook_settings() == []


def test_console_form_refusal_is_a_400_on_the_form(strict, company, console):
    client = console(company.admin)
    url = "http://169.254.169.254/latest/meta-data/iam"
    r = client.post("/alerts/settings/", {"what": "webhook", "unit": company.hq.pk, "name": "内网", "kind": "generic",
                                          "url": url, "secret": "s3cret", "min_severity": "high"})  # fmt: skip
    assert r.status_code == 400
    page = r.content.decode()
    assert (
        'id="webhook-error"' in page and "169.254.169.254" in page and "CUSTOS_WEBHOOK_ALLOW_NETWORKS" in page
    )
    assert f'value="{url}"' in page and 'value="内网"' in page and "s3cret" not in page  # typed values kept
    assert not Webhook.objects.exists()
    # Other mistakes on the same form are shown the same way
    r = client.post("/alerts/settings/", {"what": "webhook", "unit": company.hq.pk, "name": "x", "kind": "generic",
                                          "url": "ftp://8.8.8.8/", "secret": "k"})  # fmt: skip
    assert r.status_code == 400 and 'id="webhook-error"' in r.content.decode()


def test_refused_at_delivery_is_failed_once_and_never_sent(
    settings, company, send, receiver, django_capture_on_commit_callbacks
):
    """Saved while loopback was allowed; the operator then takes that away (as DNS may change)."""
    r = receiver(fail=0)
    hook = services.create_webhook(actor=company.admin, unit=company.hq, name="SIEM", kind=Webhook.Kind.GENERIC,
                                   url=r.url, secret="k")  # fmt: skip
    settings.CUSTOS_WEBHOOK_ALLOW_NETWORKS = []
    alert = _raise(company, send, django_capture_on_commit_callbacks)
    d = Delivery.objects.get(webhook=hook, alert=alert)
    assert d.state == Delivery.State.FAILED and d.attempts == 1
    assert "127.0.0.1" in d.last_error and str(egress.KINDS["loopback"]) in d.last_error
    assert r.requests == []
    # Not retried: neither by the sweep hours later, nor by turning the webhook off and on.
    later = timezone.now()
    for _ in range(3):
        later += timedelta(hours=2)
        assert delivery.send_due(now=later)["failed"] == 0
    services.set_webhook_enabled(actor=company.admin, webhook=hook, enabled=False)
    services.set_webhook_enabled(actor=company.admin, webhook=hook, enabled=True)
    d.refresh_from_db()
    assert d.state == "failed" and d.attempts == 1 and r.requests == []
    # Allowed again: the next alert goes out.
    settings.CUSTOS_WEBHOOK_ALLOW_NETWORKS = ["127.0.0.1/32"]
    with django_capture_on_commit_callbacks(execute=True):
        from .conftest import message_event

        send(message_event(company.sales_a, "加我私人微信 wx_abc123 聊"))
    assert Delivery.objects.filter(webhook=hook, state="delivered").exists() and r.requests


def test_delivery_connects_to_the_checked_address(
    company, send, receiver, django_capture_on_commit_callbacks
):
    """A name is resolved once, checked, and that address connected to; Host and the URL keep the name."""
    r = receiver(fail=0)
    port = r.server.server_address[1]
    services.create_webhook(actor=company.admin, unit=company.hq, name="by name", kind=Webhook.Kind.GENERIC,
                            url=f"http://localhost:{port}/hook", secret="k")  # fmt: skip
    _raise(company, send, django_capture_on_commit_callbacks)
    assert Delivery.objects.filter(state="delivered").exists()
    assert r.requests[0]["headers"]["Host"] == f"localhost:{port}" and r.requests[0]["path"] == "/hook"
    # The opener never asks DNS again: a name that resolves nowhere still reaches the pinned address.
    target = egress.Target("receiver.invalid", port, ("127.0.0.1",))
    import urllib.request

    request = urllib.request.Request(f"http://receiver.invalid:{port}/pinned", data=b"{}", method="POST")
    with egress.opener(target).open(request, timeout=5) as response:
        assert response.status == 200
    assert (
        r.requests[-1]["path"] == "/pinned"
        and r.requests[-1]["headers"]["Host"] == f"receiver.invalid:{port}"
    )


class Redirector:
    """Answers every POST with 302 to `location`."""

    def __init__(self, location):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(self.path)
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_redirects_are_not_followed(company, send, receiver, django_capture_on_commit_callbacks):
    elsewhere = receiver(fail=0)
    bouncer = Redirector(elsewhere.url)
    try:
        services.create_webhook(actor=company.admin, unit=company.hq, name="bounce", kind=Webhook.Kind.GENERIC,
                                url=bouncer.url, secret="k")  # fmt: skip
        _raise(company, send, django_capture_on_commit_callbacks)
    finally:
        bouncer.close()
    d = Delivery.objects.get()
    assert d.state == "pending" and "302" in d.last_error and "redirect" in d.last_error
    assert bouncer.requests and elsewhere.requests == []  # the Location was never visited


def _certificate(name: str):
    """A self-signed certificate for `name`, as PEM (certificate, key)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_tls_to_the_pinned_address_still_checks_the_host_name(tmp_path):
    """HTTPS connects to the checked address but verifies the certificate against the URL's name (SNI)."""
    import ssl
    import urllib.error
    import urllib.request

    cert, key = _certificate("receiver.test")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    r = Receiver(fail=0)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    r.server.socket = server_tls.wrap_socket(r.server.socket, server_side=True)
    port = r.server.server_address[1]
    client_tls = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    target = egress.Target("receiver.test", port, ("127.0.0.1",))
    try:
        request = urllib.request.Request(f"https://receiver.test:{port}/tls", data=b"{}", method="POST")
        with egress.opener(target, tls=client_tls).open(request, timeout=5) as response:
            assert response.status == 200
        assert r.requests[-1]["path"] == "/tls"
        # The same address under another name: the certificate does not match, nothing is sent.
        other = urllib.request.Request(f"https://other.test:{port}/tls", data=b"{}", method="POST")
        with pytest.raises(urllib.error.URLError, match="certificate|hostname"):
            egress.opener(target, tls=client_tls).open(other, timeout=5)
        assert len(r.requests) == 1
    finally:
        r.close()


def test_target_of_refuses_what_is_not_http():
    for url in ("ftp://8.8.8.8/x", "http:///x", "http://8.8.8.8:99999/", "javascript:alert(1)"):
        with pytest.raises(egress.Refused):
            egress.target_of(url)
    assert egress.target_of("https://hooks.example.com/x") == ("hooks.example.com", 443)
    assert egress.target_of("http://[::1]:8080/x") == ("::1", 8080)
