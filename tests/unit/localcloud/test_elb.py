"""The load balancer stand-in's pure parts: loopback addresses, the /etc/hosts block, the redirect."""

from __future__ import annotations

from pathlib import Path

from localcloud import elb
from localcloud.alb import redirect_response

DNS = "web-1234567890.eu-west-1.elb.amazonaws.com"


def test_a_load_balancer_gets_a_stable_loopback_address_never_127_0_0_1_nor_a_taken_one() -> None:
    first = elb.address_for(DNS, set())
    assert first == elb.address_for(DNS, set()) and first.startswith("127.") and first != "127.0.0.1"
    assert elb.address_for(DNS, {first}) != first


def test_the_hosts_block_is_replaced_in_place_and_other_lines_and_clouds_are_kept(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "127.0.0.1 localhost\n"
        "# BEGIN localcloud load balancers other\n127.9.9.9 x\n# END localcloud load balancers other\n"
    )
    assert elb.write_hosts("abc", {DNS: "127.20.1.2"}, hosts) is True
    assert elb.write_hosts("abc", {DNS: "127.20.1.2"}, hosts) is False  # nothing to change
    text = hosts.read_text()
    assert text.startswith("127.0.0.1 localhost\n") and "127.9.9.9 x" in text
    assert f"127.20.1.2 {DNS}" in text
    assert elb.write_hosts("abc", {}, hosts) is True
    assert DNS not in hosts.read_text() and "127.9.9.9 x" in hosts.read_text()


def test_the_redirect_fills_host_path_and_query_as_an_alb_does() -> None:
    config = {
        "Protocol": "HTTPS",
        "Port": "443",
        "Host": "#{host}",
        "Path": "/#{path}",
        "Query": "#{query}",
        "StatusCode": "HTTP_301",
    }
    head = f"GET /api/resumes?limit=5 HTTP/1.1\r\nHost: {DNS}\r\n\r\n".encode()
    answer = redirect_response(head, config, 80).decode()
    assert answer.startswith("HTTP/1.1 301 Moved Permanently\r\n")
    assert f"Location: https://{DNS}/api/resumes?limit=5\r\n" in answer


def test_a_redirect_to_another_port_names_it_and_a_302_stays_a_302() -> None:
    config = {"Protocol": "HTTPS", "Port": "8443", "StatusCode": "HTTP_302"}
    answer = redirect_response(b"GET / HTTP/1.1\r\nHost: example.test:80\r\n\r\n", config, 80).decode()
    assert answer.startswith("HTTP/1.1 302 Found\r\n") and "Location: https://example.test:8443/\r\n" in answer
