from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from haven import settings_doc
from haven.settings import SettingsError, describe, load

README = Path(__file__).resolve().parent.parent / "README.md"


def test_defaults_listen_on_localhost_port_8000_with_sqlite_in_var(tmp_path: Path) -> None:
    settings = load({"HAVEN_VAR_DIR": str(tmp_path)})
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'haven.sqlite3'}"
    assert settings.base_url == "http://127.0.0.1:8000"


def test_every_setting_has_a_help_string() -> None:
    for row in describe():
        assert len(row.help) > 10, f"{row.variable} needs a help string"


def test_the_readme_settings_table_is_the_one_generated_from_settings_py() -> None:
    assert settings_doc.between_markers(README.read_text()) == settings_doc.markdown_table(), (
        "README.md's settings table differs from haven/settings.py: run `make docs`"
    )


def test_the_table_has_one_row_per_setting_with_its_default() -> None:
    rows = settings_doc.markdown_table().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{row.variable}`" for row in describe()]
    assert "| `HAVEN_PORT` | `8000` | Port the server listens on. |" in rows
    assert "| `HAVEN_SHIELD` | `true` |" in "\n".join(rows)
    assert "| `HAVEN_REDIS_URL` |  |" in "\n".join(rows), "no default is an empty cell"


def test_make_docs_rewrites_only_the_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    start, end = settings_doc.START, settings_doc.END
    readme.write_text(f"# Haven\n\nIntro.\n\n{start}\n| stale | table |\n{end}\n\nAfter.\n")
    assert settings_doc.main([str(readme)]) == 0
    table = settings_doc.markdown_table()
    assert readme.read_text() == f"# Haven\n\nIntro.\n\n{start}\n{table}{end}\n\nAfter.\n"
    assert settings_doc.main([str(readme), "--check"]) == 0, "a second run finds nothing to change"


def test_make_docs_check_fails_on_a_stale_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"{settings_doc.START}\n| stale |\n{settings_doc.END}\n")
    assert settings_doc.main([str(readme), "--check"]) == 1
    assert "run `make docs`" in capsys.readouterr().err
    assert "stale" in readme.read_text(), "--check writes nothing"


def test_make_docs_refuses_a_readme_without_the_markers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Haven\n")
    assert settings_doc.main([str(readme)]) == 2
    assert settings_doc.START in capsys.readouterr().err
    assert readme.read_text() == "# Haven\n"


def test_an_unknown_haven_variable_stops_startup_naming_the_closest_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        load({"HAVEN_VAR_DIR": str(tmp_path), "HAVEN_REDIS_ULR": "redis://127.0.0.1:6379/0"})
    assert str(error.value).startswith(
        "HAVEN_REDIS_ULR is not a Haven setting; did you mean HAVEN_REDIS_URL?"
    )
    assert "`haven settings`" in str(error.value)
    assert not (tmp_path / "secret_key").exists(), "refused before anything is written"


def test_every_unknown_variable_is_named_even_without_a_close_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        load({"HAVEN_VAR_DIR": str(tmp_path), "HAVEN_BANANA": "1", "haven_port": "8080"})
    message = str(error.value)
    assert "HAVEN_BANANA is not a Haven setting." in message
    assert "haven_port is not a Haven setting; did you mean HAVEN_PORT?" in message


def test_test_only_and_unrelated_variables_are_left_alone(tmp_path: Path) -> None:
    settings = load(
        {
            "HAVEN_VAR_DIR": str(tmp_path),
            "HAVEN_TEST_REDIS": "redis://127.0.0.1:6379/15",
            "HAVEN_TEST_POSTGRES": "postgresql://postgres@127.0.0.1/postgres",
            "HAVENLY": "1",
            "PATH": "/usr/bin",
        }
    )
    assert settings.redis_url == ""


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
        ("HAVEN_MAIL_BACKEND", "pigeon", "file, console or smtp"),
        ("HAVEN_SMTP_HOST", "smtp://relay.example.ca:587", "host name such as smtp.example.ca"),
        ("HAVEN_SMTP_PORT", "0", "between 1 and 65535"),
        ("HAVEN_SMTP_SECURITY", "ssl", "starttls, tls or none"),
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


SMTP = {
    "HAVEN_MAIL_BACKEND": "smtp",
    "HAVEN_MAIL_FROM": "no-reply@haven.example.ca",
    "HAVEN_SMTP_HOST": "smtp.example.ca",
}
RELAY_PASSWORD = "relay-password-that-must-never-show"


def test_a_relay_is_set_by_its_host_with_starttls_and_a_password_by_default(tmp_path: Path) -> None:
    settings = load(
        {
            "HAVEN_VAR_DIR": str(tmp_path),
            **SMTP,
            "HAVEN_SMTP_USER": "haven",
            "HAVEN_SMTP_PASSWORD": RELAY_PASSWORD,
        }
    )
    assert (settings.mail_backend, settings.smtp_host, settings.smtp_port) == (
        "smtp",
        "smtp.example.ca",
        None,
    )
    assert (settings.smtp_security, settings.smtp_user, settings.smtp_password) == (
        "starttls",
        "haven",
        RELAY_PASSWORD,
    )
    listed = settings_doc.listing() + settings_doc.markdown_table()
    assert "HAVEN_SMTP_PASSWORD" in listed
    assert RELAY_PASSWORD not in listed
    for address in ("10.0.0.25", "::1", "relay", "smtp.example.ca."):
        assert load({"HAVEN_VAR_DIR": str(tmp_path), **SMTP, "HAVEN_SMTP_HOST": address}).smtp_host == address


@pytest.mark.parametrize(
    ("env", "named", "fragment"),
    [
        ({"HAVEN_SMTP_HOST": ""}, "HAVEN_SMTP_HOST", "needs the mail relay's host name"),
        ({"HAVEN_SMTP_USER": "haven"}, "HAVEN_SMTP_PASSWORD", "without its password"),
        ({"HAVEN_SMTP_PASSWORD": RELAY_PASSWORD}, "HAVEN_SMTP_USER", "without the user name"),
        (
            {
                "HAVEN_SMTP_USER": "haven",
                "HAVEN_SMTP_PASSWORD": RELAY_PASSWORD,
                "HAVEN_SMTP_SECURITY": "none",
            },
            "HAVEN_SMTP_SECURITY",
            "unencrypted",
        ),
        ({"HAVEN_MAIL_FROM": ""}, "HAVEN_MAIL_FROM", "refuse no-reply@haven.invalid"),
        (
            {"HAVEN_MAIL_BACKEND": "file", "HAVEN_SMTP_PASSWORD": RELAY_PASSWORD},
            "HAVEN_SMTP_HOST, HAVEN_SMTP_PASSWORD",
            "set HAVEN_MAIL_BACKEND=smtp",
        ),
    ],
)
def test_relay_settings_that_do_not_go_together_stop_startup_without_showing_the_password(
    tmp_path: Path, env: dict[str, str], named: str, fragment: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load({"HAVEN_VAR_DIR": str(tmp_path), **SMTP, **env})
    assert str(error.value).startswith(named)
    assert fragment in str(error.value)
    assert RELAY_PASSWORD not in str(error.value)


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
