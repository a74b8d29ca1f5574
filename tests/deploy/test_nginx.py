"""deploy/nginx.conf in front of a real Haven: the export is served, the rest is proxied, and with Haven
down people get the bilingual busy page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from haven.content.export import export_static
from tests.conftest import make_settings
from tests.nginx import RunningNginx, start_nginx
from tests.server import RunningServer, start_server, stop

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningNginx, RunningServer]]:
    root = tmp_path_factory.mktemp("nginx-stack")
    with start_server(root / "var") as haven:
        export_static(make_settings(root / "var", HAVEN_PORT=str(haven.port)), root / "site")
        with start_nginx(root / "nginx", root / "site", haven.port) as nginx:
            yield nginx, haven


def test_content_pages_come_from_the_export_with_havens_bytes(
    stack: tuple[RunningNginx, RunningServer],
) -> None:
    nginx, haven = stack
    for path in ("/", "/en/", "/fr/immigrer/entree-express", "/en/help", "/sitemap.xml"):
        from_nginx = httpx.get(nginx.base_url + path, headers={"accept-encoding": "identity"})
        from_haven = httpx.get(haven.base_url + path, headers={"accept-encoding": "identity"})
        assert from_nginx.status_code == 200, path
        assert "x-served-by" not in from_nginx.headers, f"{path} should not reach Haven"
        assert from_nginx.content == from_haven.content, path
        assert from_nginx.headers["cache-control"] == from_haven.headers["cache-control"]


def test_nginx_sends_the_gzip_twin_and_immutable_assets(
    stack: tuple[RunningNginx, RunningServer],
) -> None:
    nginx, _haven = stack
    page = httpx.get(nginx.base_url + "/en/immigrate", headers={"accept-encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["vary"] == "Accept-Encoding"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    stylesheet = next(
        line.split('href="')[1].split('"')[0] for line in page.text.splitlines() if 'rel="stylesheet"' in line
    )
    asset = httpx.get(nginx.base_url + stylesheet)
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_canonical_redirects_match_havens(stack: tuple[RunningNginx, RunningServer]) -> None:
    nginx, _haven = stack
    for path, target in (("/en", "/en/"), ("/en/immigrate/", "/en/immigrate")):
        response = httpx.get(nginx.base_url + path)
        assert response.status_code == 301
        assert response.headers["location"].endswith(target)


def test_everything_else_is_proxied_to_haven(stack: tuple[RunningNginx, RunningServer]) -> None:
    nginx, _haven = stack
    for path in ("/healthz", "/en/no-such-page", "/api/v1/nothing"):
        response = httpx.get(nginx.base_url + path)
        assert response.headers.get("x-served-by") == "haven", path
    assert httpx.get(nginx.base_url + "/healthz").text == "ok\n"
    missing = httpx.get(nginx.base_url + "/en/no-such-page")
    assert missing.status_code == 404
    assert "Nous ne pouvons trouver cette page" in missing.text


def test_with_haven_down_pages_stay_up_and_the_rest_gets_the_busy_page(
    tmp_path: Path,
) -> None:
    with start_server(tmp_path / "var") as haven:
        export_static(make_settings(tmp_path / "var"), tmp_path / "site")
        with start_nginx(tmp_path / "nginx", tmp_path / "site", haven.port) as nginx:
            stop(haven.process)
            page = httpx.get(nginx.base_url + "/fr/citoyennete")
            assert page.status_code == 200
            busy = httpx.get(nginx.base_url + "/api/v1/crs")
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "30"
            assert busy.headers["cache-control"] == "no-store"
            assert "Sorry, the service is busy" in busy.text
            assert "Désolés, le service est très achalandé" in busy.text
