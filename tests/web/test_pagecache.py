from __future__ import annotations

import gzip

import pytest

from haven.web.pagecache import accepts_gzip, build, etag_matches


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"gzip", True),
        (b"gzip, deflate, br, zstd", True),
        (b"deflate, gzip;q=0.5", True),
        (b"x-gzip", True),
        (b"*", True),
        (b"GZip", True),
        (b"identity", False),
        (b"br", False),
        (b"gzip;q=0", False),
        (b"gzip; q=0.000", False),
        (b"gzip;q=0, *", False),
        (b"*;q=0", False),
        (b"br, *;q=0.1", True),
        (b"gzip;q=nonsense", False),
        (b"", False),
    ],
)
def test_accept_encoding_is_read_as_rfc_9110_says(value: bytes, expected: bool) -> None:
    assert accepts_gzip(value) is expected
    assert accepts_gzip(value) is expected  # the remembered answer is the same


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b'"abc"', True),
        (b'W/"abc"', True),
        (b'"x", "abc"', True),
        (b' "x" ,W/"abc" ', True),
        (b"*", True),
        (b'"abcd"', False),
        (b"abc", False),
        (b'"ab"', False),
    ],
)
def test_if_none_match_uses_the_weak_comparison(header: bytes, expected: bool) -> None:
    assert etag_matches(header, b'"abc"') is expected


def test_a_page_gets_a_gzip_twin_with_its_own_etag() -> None:
    body = b"<p>" + b"Express Entry " * 100 + b"</p>"
    response = build(body, content_type="text/html; charset=utf-8", cache_control="public")
    assert response.gzipped is not None
    assert gzip.decompress(response.gzipped.body) == body
    assert response.plain.etag != response.gzipped.etag
    assert response.header("content-length") == str(len(body))


def test_tiny_or_binary_bodies_are_not_compressed() -> None:
    tiny = build(b"ok", content_type="text/plain", cache_control="public")
    image = build(b"\x89PNG" * 200, content_type="image/png", cache_control="public")
    assert tiny.gzipped is None
    assert image.gzipped is None
    assert image.header("vary") is None


def test_error_pages_carry_no_etag() -> None:
    response = build(b"x" * 400, content_type="text/html", cache_control="no-store", status=404)
    assert response.header("etag") is None
