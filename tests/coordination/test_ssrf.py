"""The SSRF guard: refused addresses (v4, v6, mapped), DNS names that resolve inside, no redirects,
capped reads and timeouts, checked at registration and again at delivery."""

from __future__ import annotations

import ipaddress
import socket
from unittest import mock

import pytest
import urllib3

from coordination import ssrf
from coordination.ssrf import UnsafeWebhookUrl, address_refusal, safe_post, vet

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "100.64.0.1",  # CGNAT
    "0.0.0.0",  # noqa: S104 - a refused address, not a bind
    "224.0.0.1",
    "255.255.255.255",
    "240.0.0.1",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
]
ACCEPTED = ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.no_loopback
@pytest.mark.parametrize("address", REFUSED)
def test_it_refuses_non_public_addresses(address, settings):
    settings.REDLINE_WEBHOOK_ALLOW_LOOPBACK = False
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ACCEPTED)
def test_it_accepts_public_addresses(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_loopback_passes_only_when_allowed_and_nothing_else_does():
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert address_refusal(ipaddress.ip_address("::ffff:127.0.0.1"), allow_loopback=True) is None
    assert address_refusal(ipaddress.ip_address("10.0.0.1"), allow_loopback=True) is not None
    assert address_refusal(ipaddress.ip_address("169.254.169.254"), allow_loopback=True) is not None


@pytest.mark.no_loopback
def test_plain_http_is_refused_unless_allowed(settings):
    settings.REDLINE_WEBHOOK_ALLOW_HTTP = False
    settings.REDLINE_WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(UnsafeWebhookUrl, match="https"):
        vet("http://93.184.215.14/hook")
    assert vet("https://93.184.215.14/hook").port == 443


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x", "https://user:pw@1.1.1.1/", "https:///nohost", "https://1.1.1.1:99999/"]
)
def test_it_refuses_malformed_urls(url):
    with pytest.raises(UnsafeWebhookUrl):
        vet(url)


@pytest.mark.no_loopback
@pytest.mark.parametrize(
    "answers",
    [
        ["10.1.2.3"],
        ["169.254.169.254"],
        ["::ffff:127.0.0.1"],
        ["93.184.215.14", "192.168.0.7"],
        ["fd00:ec2::254"],
    ],
)
def test_a_name_resolving_to_a_refused_address_is_refused(answers, settings):
    settings.REDLINE_WEBHOOK_ALLOW_LOOPBACK = False
    fake = [ipaddress.ip_address(a) for a in answers]
    with (
        mock.patch.object(ssrf, "resolve", return_value=fake),
        pytest.raises(UnsafeWebhookUrl, match="refused"),
    ):
        vet("https://hooks.partner.example/redline")


def test_it_connects_to_the_vetted_address_with_the_original_host_header(sink):
    """DNS is asked once; the connection goes to that answer, whatever the name resolves to later."""
    answers = iter([[ipaddress.ip_address("127.0.0.1")], [ipaddress.ip_address("10.9.9.9")]])
    url = sink.url.replace("127.0.0.1", "hooks.partner.example")
    with mock.patch.object(ssrf, "resolve", side_effect=lambda host, port: next(answers)):
        result = safe_post(url, body=b"{}", headers={"Content-Type": "application/json"})
    assert result.status == 200
    port = sink.server.server_address[1]
    assert sink.requests[0].headers["host"] == f"hooks.partner.example:{port}"


def test_redirects_are_not_followed(sink):
    sink.status = 307
    sink.headers_out = {"Location": "http://169.254.169.254/latest/meta-data/"}
    result = safe_post(sink.url, body=b"{}", headers={})
    assert result.status == 307
    assert len(sink.requests) == 1


def test_a_big_response_is_read_only_up_to_the_cap(sink, settings):
    settings.REDLINE_WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024
    sink.response_body = b"x" * (5 * 1024 * 1024)
    result = safe_post(sink.url, body=b"{}", headers={})
    assert result.status == 200
    assert len(result.body) == 64 * 1024 and result.truncated


def test_a_slow_receiver_times_out(sink, settings):
    settings.REDLINE_WEBHOOK_READ_TIMEOUT_SECONDS = 0.5
    sink.sleep = 3
    with pytest.raises(urllib3.exceptions.TimeoutError):
        safe_post(sink.url, body=b"{}", headers={})


def test_a_connect_to_a_silent_port_fails_fast():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens: connection refused
    with pytest.raises(urllib3.exceptions.HTTPError):
        safe_post(f"http://127.0.0.1:{port}/", body=b"{}", headers={})
