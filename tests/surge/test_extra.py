"""The simulator's libraries are an extra (``haven[surge]``): serving never loads them, and ``haven surge``
without them says what to install instead of failing with a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from haven.cli import main
from haven.surge import arguments

EXTRA = ("hdrh", "matplotlib")
# Builds the app and the command line, then imports every module of the runtime package (all of haven/
# but the simulator, the migration scripts alembic runs, and ``python -m haven``), and names what of the
# extra got loaded.
PROBE = """
import importlib
import sys
from pathlib import Path

import haven
from haven.app import create_app
from haven.cli import main
from haven.settings import load

main(["settings"])
create_app(load())
root = Path(haven.__file__).parent
for path in sorted(root.rglob("*.py")):
    name = ".".join(("haven", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
    if not name.startswith(("haven.surge.", "haven.migrations.", "haven.__main__")):
        importlib.import_module(name)
        print("imported", name)
print("loaded:" + ",".join(name for name in {extra!r} if name in sys.modules))
"""


def test_serving_and_the_command_line_never_load_the_simulators_libraries(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(extra=EXTRA)],
        env={"HAVEN_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    imported = {line.removeprefix("imported ") for line in lines if line.startswith("imported ")}
    assert {"haven.app", "haven.cli", "haven.shield.room", "haven.web.layers"} <= imported
    assert lines[-1] == "loaded:"


def test_the_extra_names_the_simulators_libraries() -> None:
    assert set(EXTRA) <= set(arguments.EXTRA_MODULES)
    assert arguments.missing_extra() == []  # the suite installs .[dev,surge]


def test_haven_surge_without_the_extra_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path))
    monkeypatch.setattr(arguments, "EXTRA_MODULES", ("hdrh", "haven_no_such_module"))
    assert main(["surge"]) == 2
    err = capsys.readouterr().err
    assert "haven_no_such_module" in err
    assert "pip install 'haven[surge]'" in err
