"""Block lists of email domains and IP ranges, managed by moderators."""

from __future__ import annotations

from tests.petitions.helpers import SIGN_URL, signer
from tests.test_errors import assert_problem

DOMAINS = "/v1/admin/blocklist/email-domains"
RANGES = "/v1/admin/blocklist/ip-ranges"


def test_email_domains(client, admin) -> None:
    added = client.post(
        DOMAINS, json={"domain": " Spam.Example. ", "reason": "Bots"}, headers=admin
    )
    assert added.status_code == 201, added.text
    assert added.json()["domain"] == "spam.example"
    assert_problem(client.post(DOMAINS, json={"domain": "SPAM.example"}, headers=admin), 409)
    client.post(DOMAINS, json={"domain": "xn--bcher-kva.example"}, headers=admin)
    listed = client.get(DOMAINS, headers=admin).json()["items"]
    assert [d["domain"] for d in listed] == ["bücher.example", "spam.example"]

    # Signing takes the list into account at once (in this process).
    refused = assert_problem(
        client.post(SIGN_URL, json=signer(email="someone@mail.spam.example")), 422
    )
    assert refused["errors"][0]["field"] == "email"

    for bad in ("not a domain", "user@spam.example", "localhost", "-bad-.example"):
        body = assert_problem(client.post(DOMAINS, json={"domain": bad}, headers=admin), 422)
        assert body["errors"][0]["field"] == "domain", bad

    assert (
        client.delete(DOMAINS, params={"domain": "spam.example"}, headers=admin).status_code == 204
    )
    assert_problem(client.delete(DOMAINS, params={"domain": "spam.example"}, headers=admin), 404)
    assert client.post(SIGN_URL, json=signer(email="someone@mail.spam.example")).status_code == 202
    body = assert_problem(client.delete(DOMAINS, params={"domain": "a b"}, headers=admin), 422)
    assert body["errors"][0]["location"] == ["query", "domain"]


def test_ip_ranges(client, admin) -> None:
    added = client.post(RANGES, json={"cidr": "203.0.113.0/24", "reason": "Bot net"}, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json()["cidr"] == "203.0.113.0/24"
    assert_problem(client.post(RANGES, json={"cidr": "203.0.113.0/24"}, headers=admin), 409)
    single = client.post(RANGES, json={"cidr": "198.51.100.7"}, headers=admin)
    assert single.json()["cidr"] == "198.51.100.7/32"
    v6 = client.post(RANGES, json={"cidr": "2001:DB8::/32"}, headers=admin)
    assert v6.json()["cidr"] == "2001:db8::/32"

    host_bits = assert_problem(
        client.post(RANGES, json={"cidr": "192.0.2.7/24"}, headers=admin), 422
    )
    assert host_bits["errors"][0]["field"] == "cidr"
    assert "192.0.2.0/24" in host_bits["errors"][0]["message"]
    for bad in ("not-an-ip", "300.1.1.1", "10.0.0.0/33"):
        body = assert_problem(client.post(RANGES, json={"cidr": bad}, headers=admin), 422)
        assert body["errors"][0]["field"] == "cidr", bad

    listed = [r["cidr"] for r in client.get(RANGES, headers=admin).json()["items"]]
    assert sorted(listed) == sorted(["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"])

    assert client.delete(RANGES, params={"cidr": "198.51.100.7"}, headers=admin).status_code == 204
    assert_problem(client.delete(RANGES, params={"cidr": "198.51.100.7/32"}, headers=admin), 404)
