"""``haven export-static DIR``: the public site as plain files, the last line of defence.

nginx or a CDN can serve this folder alone when every app process is down (``deploy/nginx.conf``).
The files hold exactly the bytes Haven serves, gzip twins included for ``gzip_static``.
"""

from __future__ import annotations

import os
from pathlib import Path

from haven.settings import Settings


def export_static(settings: Settings, directory: Path) -> int:
    """Write every file and return how many were written."""
    from haven.app import create_app  # the site as the app builds it, links to its pages included

    site = create_app(settings).site
    count = 0
    for name, body in site.export_files():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so a mirror being refreshed never serves half a page.
        draft = target.with_name(f".{target.name}.tmp")
        draft.write_bytes(body)
        os.replace(draft, target)
        count += 1
    return count
