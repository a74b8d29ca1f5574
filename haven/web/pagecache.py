"""Responses rendered ahead of time and served from memory: the reason reading Haven costs almost nothing.

A ``CachedResponse`` holds the finished bytes of one URL, a gzip variant when that is smaller, a strong
ETag for each, and header lists built once. Serving it is a dictionary lookup, a scan of the request
headers for ``Accept-Encoding`` and ``If-None-Match``, and two ``send`` calls.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from haven.web.asgi import Scope, Send
from haven.web.rsgi import RSGIProtocol, RSGIScope

# Public pages: five minutes fresh, then served stale while a CDN revalidates, and kept for a day when
# the origin errors (GOV.UK's CDN grace is the model).
PUBLIC_PAGE: Final = "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400"
IMMUTABLE: Final = "public, max-age=31536000, immutable"
SHORT_PUBLIC: Final = "public, max-age=60, stale-if-error=86400"
NO_STORE: Final = "no-store"
HTML: Final = "text/html; charset=utf-8"

SECURITY_HEADERS: Final[tuple[tuple[bytes, bytes], ...]] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
)

# Only worth compressing text; below this size gzip's framing eats the gain.
MIN_GZIP_SIZE: Final = 256
GET_OR_HEAD: Final = frozenset(("GET", "HEAD"))
ALLOW: Final = b"GET, HEAD"


@dataclass(frozen=True, slots=True)
class Representation:
    body: bytes
    etag: bytes
    headers: list[tuple[bytes, bytes]]  # for 200 (and HEAD)
    not_modified_headers: list[tuple[bytes, bytes]]  # for 304
    # The same, as RSGI takes them (str pairs), made once too.
    str_headers: list[tuple[str, str]]
    str_not_modified_headers: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """One URL's finished response. ``route_class`` labels it in the metrics."""

    status: int
    plain: Representation
    gzipped: Representation | None
    route_class: str

    @property
    def body(self) -> bytes:
        return self.plain.body

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for key, value in self.plain.headers:
            if key == wanted:
                return value.decode()
        return None

    async def serve(self, scope: Scope, send: Send) -> int:
        """Answer the request and return the status sent (for the metrics). This is the hot path
        of the whole portal: keep it free of calls it does not need."""
        method = scope["method"]
        if method not in GET_OR_HEAD:
            await send_method_not_allowed(send)
            return 405
        chosen, if_none_match = self._negotiate(scope)
        if if_none_match is not None and self.status == 200 and etag_matches(if_none_match, chosen.etag):
            await send({"type": "http.response.start", "status": 304, "headers": chosen.not_modified_headers})
            await send({"type": "http.response.body", "body": b""})
            return 304
        await send({"type": "http.response.start", "status": self.status, "headers": chosen.headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else chosen.body})
        return self.status

    def serve_rsgi(self, scope: RSGIScope, protocol: RSGIProtocol) -> int:
        """``serve`` for Granian's RSGI interface: one call with the finished bytes."""
        method = scope.method
        if method not in GET_OR_HEAD:
            protocol.response_bytes(405, _METHOD_NOT_ALLOWED_STR, _METHOD_NOT_ALLOWED_BODY)
            return 405
        headers = scope.headers
        chosen = self.plain
        if self.gzipped is not None:
            accept_encoding = headers.get("accept-encoding")
            if accept_encoding is not None and accepts_gzip(accept_encoding.encode("latin-1")):
                chosen = self.gzipped
        if_none_match = headers.get("if-none-match")
        if (
            if_none_match is not None
            and self.status == 200
            and etag_matches(if_none_match.encode("latin-1"), chosen.etag)
        ):
            protocol.response_bytes(304, chosen.str_not_modified_headers, b"")
            return 304
        protocol.response_bytes(self.status, chosen.str_headers, b"" if method == "HEAD" else chosen.body)
        return self.status

    async def send_as_is(self, scope: Scope, send: Send) -> None:
        """Send with this response's own status whatever the method: error pages answer every
        method alike (a POST to an unknown address gets the 404 page)."""
        chosen, _ = self._negotiate(scope)
        await send({"type": "http.response.start", "status": self.status, "headers": chosen.headers})
        body = b"" if scope["method"] == "HEAD" else chosen.body
        await send({"type": "http.response.body", "body": body})

    def _negotiate(self, scope: Scope) -> tuple[Representation, bytes | None]:
        accept_encoding = if_none_match = None
        for key, value in scope["headers"]:
            if key == b"accept-encoding":
                accept_encoding = value
            elif key == b"if-none-match":
                if_none_match = value
        if self.gzipped is not None and accept_encoding is not None and accepts_gzip(accept_encoding):
            return self.gzipped, if_none_match
        return self.plain, if_none_match


def build(
    body: bytes,
    *,
    content_type: str,
    cache_control: str,
    status: int = 200,
    route_class: str = "content",
    extra_headers: Mapping[str, str] | None = None,
) -> CachedResponse:
    """Finish a response once: gzip variant, strong ETags, and every header list it will ever need."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    extra = [(k.lower().encode(), v.encode()) for k, v in (extra_headers or {}).items()]
    compressible = content_type.startswith(("text/", "application/xml", "application/json"))
    compressed = gzip.compress(body, compresslevel=9, mtime=0) if compressible else b""
    use_gzip = compressible and len(body) >= MIN_GZIP_SIZE and len(compressed) < len(body)

    def representation(payload: bytes, etag: bytes, encoding: bytes | None) -> Representation:
        # ETags belong to success responses; an error page is not a resource a client revalidates.
        validators = [(b"etag", etag)] if status == 200 else []
        varying = [(b"vary", b"Accept-Encoding")] if compressible else []
        cache = [(b"cache-control", cache_control.encode())]
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(payload)).encode()),
            *([(b"content-encoding", encoding)] if encoding else []),
            *cache,
            *validators,
            *varying,
            *extra,
            *SECURITY_HEADERS,
        ]
        not_modified = [*cache, *validators, *varying]
        return Representation(payload, etag, headers, not_modified, _as_str(headers), _as_str(not_modified))

    plain = representation(body, f'"{digest}"'.encode(), None)
    gzipped = representation(compressed, f'"{digest}-gz"'.encode(), b"gzip") if use_gzip else None
    return CachedResponse(status, plain, gzipped, route_class)


def redirect(
    location: str, *, status: int = 301, cache_control: str = "public, max-age=86400"
) -> CachedResponse:
    """A cacheable redirect: 301 for canonical addresses, 303 from a form step to the next."""
    return build(
        b"",
        content_type="text/plain; charset=utf-8",
        cache_control=cache_control,
        status=status,
        route_class="redirect",
        extra_headers={"location": location},
    )


_ACCEPT_GZIP_CACHE: dict[bytes, bool] = {}
_ACCEPT_GZIP_CACHE_SIZE: Final = 512


def accepts_gzip(accept_encoding: bytes) -> bool:
    """Whether an Accept-Encoding value admits gzip (RFC 9110 §12.5.3), remembering the few values
    browsers actually send so the hot path rarely parses."""
    known = _ACCEPT_GZIP_CACHE.get(accept_encoding)
    if known is not None:
        return known
    verdict = _parse_accepts_gzip(accept_encoding)
    if len(_ACCEPT_GZIP_CACHE) >= _ACCEPT_GZIP_CACHE_SIZE:
        _ACCEPT_GZIP_CACHE.clear()  # crude, but bounded: a client cannot grow it without limit
    _ACCEPT_GZIP_CACHE[accept_encoding] = verdict
    return verdict


def _parse_accepts_gzip(accept_encoding: bytes) -> bool:
    gzip_q: float | None = None
    star_q: float | None = None
    for item in accept_encoding.lower().split(b","):
        coding, _, params = item.partition(b";")
        coding = coding.strip()
        q = _quality(params)
        if coding in (b"gzip", b"x-gzip"):
            gzip_q = q if gzip_q is None else max(gzip_q, q)
        elif coding == b"*":
            star_q = q
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


def _quality(params: bytes) -> float:
    for param in params.split(b";"):
        name, _, value = param.partition(b"=")
        if name.strip() == b"q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 0.0  # a malformed weight is not consent
    return 1.0


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """If-None-Match uses the weak comparison: ``W/`` prefixes are ignored (RFC 9110 §13.1.2)."""
    value = if_none_match.strip()
    if value == b"*":
        return True
    for candidate in value.split(b","):
        tag = candidate.strip()
        if tag.startswith(b"W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


_METHOD_NOT_ALLOWED_BODY: Final = b"Method Not Allowed"
_METHOD_NOT_ALLOWED_HEADERS: Final = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_METHOD_NOT_ALLOWED_BODY)).encode()),
    (b"allow", ALLOW),
    (b"cache-control", b"no-store"),
    *SECURITY_HEADERS,
]


def _as_str(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]


_METHOD_NOT_ALLOWED_STR: Final = _as_str(_METHOD_NOT_ALLOWED_HEADERS)


async def send_method_not_allowed(send: Send) -> None:
    await send({"type": "http.response.start", "status": 405, "headers": _METHOD_NOT_ALLOWED_HEADERS})
    await send({"type": "http.response.body", "body": _METHOD_NOT_ALLOWED_BODY})


async def send_plain(
    send: Send,
    status: int,
    text: str,
    *,
    cache_control: str = NO_STORE,
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    await send_body(send, status, text.encode(), b"text/plain; charset=utf-8", cache_control, extra)


async def send_body(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    cache_control: str = NO_STORE,
    extra: Iterable[tuple[bytes, bytes]] = (),
    *,
    head: bool = False,
) -> None:
    """An answer made for this request; for HEAD, the headers of the GET (its length included)."""
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", cache_control.encode()),
        *extra,
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
