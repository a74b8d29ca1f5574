"""What the tests on namespace hosts share: a folder the engines' own users can reach, and a network
that is removed however the test ends."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cluster.hosts import Network


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    """A fresh folder, removed afterwards. Not pytest's ``tmp_path``: its folders are 0700, and
    PostgreSQL and PgBouncer run as ``postgres``, who must reach theirs."""
    folder = Path(tempfile.mkdtemp(prefix="haven-hosts-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def hosts(prefix: str, subnet: str) -> Iterator[tuple[Network, Path]]:
    """A network of hosts (no netem delay: the kernels CI runs on may lack it) and a workspace."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.fail("these tests build network namespaces: run them as root on Linux (CI does)")
    with workspace() as folder, Network(prefix, subnet, delay_ms=0) as network:
        yield network, folder
