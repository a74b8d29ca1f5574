from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest

from haven import settings as settings_module
from haven.cli import main
from haven.settings import SettingsError, load

README = Path(__file__).resolve().parent.parent / "README.md"


def test_defaults_listen_on_localhost_port_8000_with_sqlite_in_var(tmp_path: Path) -> None:
    settings = load({"HAVEN_VAR_DIR": str(tmp_path)})
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'haven.sqlite3'}"
    assert settings.base_url == "http://127.0.0.1:8000"


def test_every_setting_has_help_and_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    documented = set(re.findall(r"^\| `(HAVEN_[A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    described = {name for name, _default, _help in settings_module.describe()}
    for name, _default, text in settings_module.describe():
        assert len(text) > 10, f"{name} needs a help string"
    assert described == documented, "README's settings table and haven/settings.py disagree"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("HAVEN_PORT", "eighty", "whole number"),
        ("HAVEN_PORT", "70000", "between 1 and 65535"),
        ("HAVEN_WORKERS", "0", "between 1 and 64"),
        ("HAVEN_HOST", "my laptop", "IP address"),
        ("HAVEN_PUBLIC_URL", "ftp://haven.example", "http(s)"),
        ("HAVEN_PUBLIC_URL", "https://haven.example/?x=1", "http(s)"),
        ("HAVEN_DATABASE_URL", "mysql://root@localhost/haven", "sqlite:// or postgresql://"),
        ("HAVEN_SECRET_KEY", "short", "at least 32 characters"),
        ("HAVEN_CONTACT_EMAIL", "not an address", "email address"),
        ("HAVEN_LOG_LEVEL", "loud", "debug, info, warning, error"),
        ("HAVEN_MAIL_BACKEND", "pigeon", "file or console"),
        ("HAVEN_BEHIND_PROXY", "maybe", "true or false"),
        ("HAVEN_ARGON2_TIME_COST", "0", "between 1 and 20"),
    ],
)
def test_a_bad_value_stops_startup_naming_the_variable(
    tmp_path: Path, variable: str, value: str, fragment: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load({"HAVEN_VAR_DIR": str(tmp_path), variable: value})
    assert variable in str(error.value)
    assert fragment in str(error.value)


def test_values_are_parsed_to_their_types(tmp_path: Path) -> None:
    settings = load(
        {
            "HAVEN_VAR_DIR": str(tmp_path),
            "HAVEN_PORT": " 8080 ",
            "HAVEN_PUBLIC_URL": "https://haven.example.ca/",
            "HAVEN_DATABASE_URL": "postgresql://haven@db/haven",
            "HAVEN_LOG_LEVEL": "WARNING",
        }
    )
    assert settings.port == 8080
    assert settings.base_url == "https://haven.example.ca"
    assert settings.database_url == "postgresql+asyncpg://haven@db/haven"
    assert settings.log_level == "warning"


def test_the_secret_key_is_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    first = load({"HAVEN_VAR_DIR": str(tmp_path)}).secret_key
    second = load({"HAVEN_VAR_DIR": str(tmp_path)}).secret_key
    key_file = tmp_path / "secret_key"
    assert first == second
    assert len(first) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["admin_token", "data_key", "secret_key"], (
        "no draft is left"
    )


def test_the_data_key_is_generated_once_as_32_bytes_and_kept_private(tmp_path: Path) -> None:
    first = load({"HAVEN_VAR_DIR": str(tmp_path)}).data_key
    assert load({"HAVEN_VAR_DIR": str(tmp_path)}).data_key == first
    assert len(base64.urlsafe_b64decode(first)) == 32
    assert stat.S_IMODE((tmp_path / "data_key").stat().st_mode) == 0o600


def test_a_data_key_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="HAVEN_DATA_KEY"):
        load({"HAVEN_VAR_DIR": str(tmp_path), "HAVEN_DATA_KEY": "c2hvcnQ="})


def test_a_secret_key_from_the_environment_wins_and_nothing_is_written(tmp_path: Path) -> None:
    key = "k" * 40
    assert load({"HAVEN_VAR_DIR": str(tmp_path), "HAVEN_SECRET_KEY": key}).secret_key == key
    assert not (tmp_path / "secret_key").exists()


def test_a_damaged_key_file_stops_startup_instead_of_being_replaced(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("abc\n")
    with pytest.raises(SettingsError, match="secret key that must be at least 32"):
        load({"HAVEN_VAR_DIR": str(tmp_path)})
    assert (tmp_path / "secret_key").read_text() == "abc\n"


def test_the_command_reports_a_bad_setting_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HAVEN_PORT", "eighty")
    assert main(["export-static", str(tmp_path / "site")]) == 2
    assert "HAVEN_PORT='eighty'" in capsys.readouterr().err


def test_check_builds_the_whole_site_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path))
    assert main(["migrate"]) == 0
    assert main(["check"]) == 0
    assert "content and templates are fine" in capsys.readouterr().out


def test_check_refuses_a_database_that_is_not_migrated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path))
    assert main(["check"]) == 1
    assert "run `haven migrate`" in capsys.readouterr().err


def test_check_serves_public_pages_when_the_database_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HAVEN_DATABASE_URL", f"sqlite:///{tmp_path}/no/such/folder/x.db")
    assert main(["check"]) == 0
    assert "public pages will be served" in capsys.readouterr().out
