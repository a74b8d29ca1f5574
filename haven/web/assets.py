"""Static assets under content-hashed names, so browsers and CDNs may keep them forever.

``haven.css`` is served as ``/static/haven.<hash>.css``; a changed file gets a new name, and pages
rendered at the same start-up point to it. Old names are not kept: pages are re-rendered together.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Final

STATIC_DIR: Final = Path(__file__).resolve().parent.parent / "static"
URL_PREFIX: Final = "/static/"
CONTENT_TYPES: Final = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    name: str
    url: str
    content_type: str
    body: bytes


def load_assets(static_dir: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every file of ``static_dir`` by its plain name."""
    assets: dict[str, Asset] = {}
    for path in sorted(p for p in static_dir.iterdir() if p.is_file()):
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:12]
        content_type = CONTENT_TYPES.get(path.suffix) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        url = f"{URL_PREFIX}{path.stem}.{digest}{path.suffix}"
        assets[path.name] = Asset(path.name, url, content_type, body)
    return assets
