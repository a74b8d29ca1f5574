"""``haven operator``: add (the secret shown once), list, disable; bad input exits with 2 and says
why, and adds nobody."""

from __future__ import annotations

import io
import re

import pyotp
import pytest

from haven import cli
from haven import settings as settings_module


@pytest.fixture
def environment(db_settings: settings_module.Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_VAR_DIR", str(db_settings.var_dir))
    monkeypatch.setenv("HAVEN_SECRET_KEY", db_settings.secret_key)
    monkeypatch.setenv("HAVEN_DATA_KEY", db_settings.data_key)
    monkeypatch.setenv("HAVEN_DATABASE_URL", db_settings.database_url)
    monkeypatch.setenv("HAVEN_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("HAVEN_ARGON2_MEMORY_KIB", "8")


def run(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(list(argv))


@pytest.mark.usefixtures("environment")
def test_add_list_and_disable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            monkeypatch, "operator", "add", "Lena", "--password-file", "-", stdin="a long operator password\n"
        )
        == 0
    )
    out = capsys.readouterr().out
    secret = re.search(r"secret: ([A-Z2-7]+)", out)
    assert secret is not None
    assert "otpauth://totp/Haven:lena?secret=" in out
    assert len(pyotp.TOTP(secret.group(1)).now()) == 6
    assert run(monkeypatch, "operator", "list") == 0
    assert re.search(r"^lena\tadded \d{4}-\d\d-\d\d\tactive$", capsys.readouterr().out, re.M)
    assert run(monkeypatch, "operator", "disable", "lena") == 0
    assert run(monkeypatch, "operator", "list") == 0
    assert "\tdisabled " in capsys.readouterr().out


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (("operator", "add", "x", "--password-file", "-"), "a long operator password\n", "2 to 64"),
        (("operator", "add", "lena", "--password-file", "-"), "short\n", "10 to 200"),
        (("operator", "add", "lena", "--password-file", "no/such/file"), "", "No such file"),
        (("operator", "disable", "nobody"), "", "no operator named nobody"),
    ],
)
def test_bad_input_exits_with_2_and_adds_nobody(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    assert run(monkeypatch, *argv, stdin=stdin) == 2
    assert message in capsys.readouterr().err
    assert run(monkeypatch, "operator", "list") == 0
    assert capsys.readouterr().out == ""
