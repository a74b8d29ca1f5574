from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from haven.app import Haven, create_app
from haven.cli import main
from haven.content.export import export_static
from haven.content.site import LIVE_KEYS
from haven.settings import Settings


@pytest.fixture
def exported(tmp_path: Path, settings: Settings) -> tuple[Path, Haven]:
    site_dir = tmp_path / "site"
    count = export_static(settings, site_dir)
    assert count > 40
    return site_dir, create_app(settings)


async def test_the_export_holds_the_bytes_haven_serves(exported: tuple[Path, Haven]) -> None:
    site_dir, app = exported
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
        for path in app.site.library.pages.values():
            if path.key in LIVE_KEYS:  # live pages (the service status) are Haven's, never exported
                assert not (site_dir / f"{path.path.strip('/')}.html").exists(), path.path
                continue
            served = await client.get(path.path, headers={"accept-encoding": "identity"})
            name = (
                f"{path.path.strip('/')}/index.html"
                if path.path.endswith("/")
                else (f"{path.path.strip('/')}.html")
            )
            assert (site_dir / name).read_bytes() == served.content, name
        for url, name in (
            ("/", "index.html"),
            ("/sitemap.xml", "sitemap.xml"),
            ("/robots.txt", "robots.txt"),
        ):
            served = await client.get(url, headers={"accept-encoding": "identity"})
            assert (site_dir / name).read_bytes() == served.content
        stylesheet = app.site.assets["haven.css"].url
        served = await client.get(stylesheet, headers={"accept-encoding": "identity"})
        assert (site_dir / stylesheet.lstrip("/")).read_bytes() == served.content


def test_the_export_has_the_bilingual_404_and_busy_pages(exported: tuple[Path, Haven]) -> None:
    site_dir, app = exported
    assert (site_dir / "404.html").read_bytes() == app.site.not_found.body
    busy = (site_dir / "503.html").read_text()
    assert "Sorry, the service is busy" in busy
    assert "Désolés, le service est très achalandé" in busy
    assert app.site.busy.status == 503
    assert app.site.busy.header("retry-after") == "30"


def test_gzip_twins_hold_the_same_pages(exported: tuple[Path, Haven]) -> None:
    site_dir, _app = exported
    twins = sorted(site_dir.rglob("*.gz"))
    assert len(twins) > 40
    for twin in twins:
        assert gzip.decompress(twin.read_bytes()) == twin.with_suffix("").read_bytes()


def test_the_command_writes_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path / "var"))
    assert main(["export-static", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "en" / "immigrate.html").exists()
    assert (tmp_path / "out" / "fr" / "index.html").exists()
    assert "wrote" in capsys.readouterr().out
