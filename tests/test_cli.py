from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from haven import cli, settings_doc
from haven.cli import main
from haven.settings import Settings, describe


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path))
    return tmp_path


def test_settings_lists_every_setting_with_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    for row in describe():
        assert f"{row.variable} (default: " in out
        assert settings_doc.plain(row.help) in out
    assert "`" not in out, "the listing is plain text, without the README's Markdown"


def test_settings_markdown_prints_the_readme_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "--markdown"]) == 0
    assert capsys.readouterr().out == settings_doc.markdown_table()


def test_settings_lists_even_when_the_environment_is_wrong(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The error message sends the operator to `haven settings`: it must answer.
    monkeypatch.setenv("HAVEN_REDIS_ULR", "redis://127.0.0.1:6379/0")
    assert main(["settings"]) == 0
    assert "HAVEN_REDIS_URL" in capsys.readouterr().out


def test_a_bad_value_exits_2_naming_the_variable(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_PORT", "eighty")
    assert main(["export-static", str(var_dir / "site")]) == 2
    assert "HAVEN_PORT='eighty'" in capsys.readouterr().err
    assert not (var_dir / "site").exists()


@pytest.mark.parametrize(
    "command",
    [["migrate"], ["check"], ["serve"], ["export-static", "{var}/site"], ["room", "status"], ["surge"]],
)
def test_a_misspelt_setting_stops_every_command_that_loads_settings(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.setenv("HAVEN_REDIS_ULR", "redis://127.0.0.1:6379/0")
    # Paths in the temporary folder: were the check missing, the command must not write here.
    assert main([part.format(var=var_dir) for part in command]) == 2
    err = capsys.readouterr().err
    assert err.startswith("haven: cannot start: HAVEN_REDIS_ULR ")
    assert "did you mean HAVEN_REDIS_URL?" in err


def test_the_haven_command_reports_a_misspelt_setting_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "HAVEN_VAR_DIR": str(tmp_path), "HAVEN_REDIS_ULR": "redis://127.0.0.1:6379/0"}
    done = subprocess.run(
        [sys.executable, "-m", "haven", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "HAVEN_REDIS_ULR" in done.stderr
    assert "HAVEN_REDIS_URL" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "haven.sqlite3").exists(), "nothing ran"


def test_serve_passes_its_options_over_the_settings(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Settings] = []

    def serve_forever(settings: Settings) -> int:
        served.append(settings)
        return 0

    monkeypatch.setattr(cli, "serve_forever", serve_forever)
    monkeypatch.setenv("HAVEN_PORT", "8001")
    assert main(["serve", "--port", "9000", "--host", "127.0.0.2"]) == 0
    assert main(["serve"]) == 0
    assert [(s.host, s.port, s.workers) for s in served] == [("127.0.0.2", 9000, 1), ("127.0.0.1", 8001, 1)]


def test_room_shuffle_prints_the_draw_of_its_seed(var_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["room", "shuffle", "--seed", "s", "--size", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2", "3"]
    assert sorted(line.split()[1] for line in lines) == ["1", "2", "3"]


def test_the_overload_experiment_is_not_a_haven_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "overload"])
    assert exit_.value.code == 2
    assert "invalid choice: 'bench'" in capsys.readouterr().err


def test_check_builds_the_whole_site_and_says_so(var_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert main(["check"]) == 0
    assert "content and templates are fine" in capsys.readouterr().out


def test_check_refuses_a_database_that_is_not_migrated(
    var_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 1
    assert "run `haven migrate`" in capsys.readouterr().err


def test_check_serves_public_pages_when_the_database_does_not_answer(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_DATABASE_URL", f"sqlite:///{var_dir}/no/such/folder/x.db")
    assert main(["check"]) == 0
    assert "public pages will be served" in capsys.readouterr().out
