"""Who sent a request and how: the proxy headers are believed only behind our own proxy, and only
for the entry our proxy wrote (the last)."""

from __future__ import annotations

import pytest

from haven.web.security import client_address, forwarded_https


@pytest.mark.parametrize(
    ("behind", "value", "expected"),
    [
        (True, "https", True),
        (True, "HTTPS", True),
        (True, " https ", True),
        (True, "http, https", True),  # our proxy appended the last entry
        (True, "https, http", False),  # a client's claim, then our proxy saw plain HTTP
        (True, "http", False),
        (True, "", False),
        (True, None, False),
        (False, "https", False),  # not behind a proxy: nobody's header is believed
    ],
)
def test_tls_at_the_proxy_is_read_from_the_last_forwarded_proto(
    behind: bool, value: str | None, expected: bool
) -> None:
    assert forwarded_https(behind, value) is expected


def test_the_client_is_the_last_forwarded_address_only_behind_the_proxy() -> None:
    assert client_address(True, "198.51.100.1, 203.0.113.9", "127.0.0.1") == "203.0.113.9"
    assert client_address(False, "198.51.100.1", "127.0.0.1") == "127.0.0.1"
    assert client_address(True, "", None) == "unknown"
