"""The guard that fails the run when a test writes into the repository's own var/ notices every kind of
write: a new file, a new empty folder, a changed file, and a file made and removed again."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import var_changes, var_listing

LONG_AGO = 1_000_000_000  # every entry starts with an old time, so any write shows as a new one


def developer_data(folder: Path) -> Path:
    (folder / "mail").mkdir(parents=True)
    (folder / "haven.sqlite3").write_bytes(b"rows")
    (folder / "mail" / "welcome.eml").write_text("Subject: Welcome\n")
    for path in (folder / "mail" / "welcome.eml", folder / "haven.sqlite3", folder / "mail", folder):
        os.utime(path, (LONG_AGO, LONG_AGO))
    return folder


def test_a_folder_left_alone_shows_no_change(tmp_path: Path) -> None:
    var = developer_data(tmp_path / "var")
    before = var_listing(var)
    (var / "haven.sqlite3").read_bytes()
    assert set(before) == {".", "mail", "haven.sqlite3", "mail/welcome.eml"}
    assert var_changes(before, var_listing(var)) == []


def test_a_new_file_is_a_change(tmp_path: Path) -> None:
    var = developer_data(tmp_path / "var")
    before = var_listing(var)
    (var / "mail" / "confirm.eml").write_text("Subject: Confirm\n")
    assert var_changes(before, var_listing(var)) == ["mail", "mail/confirm.eml"]


def test_a_new_empty_folder_is_a_change(tmp_path: Path) -> None:
    var = developer_data(tmp_path / "var")
    before = var_listing(var)
    (var / "schemathesis").mkdir()
    assert var_changes(before, var_listing(var)) == [".", "schemathesis"]


def test_a_file_written_again_is_a_change(tmp_path: Path) -> None:
    var = developer_data(tmp_path / "var")
    before = var_listing(var)
    (var / "haven.sqlite3").write_bytes(b"more rows")
    assert var_changes(before, var_listing(var)) == ["haven.sqlite3"]


def test_a_file_made_and_removed_again_is_a_change(tmp_path: Path) -> None:
    var = developer_data(tmp_path / "var")
    before = var_listing(var)
    (var / "secret_key").write_text("x" * 40)
    (var / "secret_key").unlink()
    assert var_changes(before, var_listing(var)) == ["."]


def test_a_var_folder_created_by_a_test_is_a_change(tmp_path: Path) -> None:
    var = tmp_path / "var"
    before = var_listing(var)
    assert before == {}
    var.mkdir()
    assert var_changes(before, var_listing(var)) == ["."]
