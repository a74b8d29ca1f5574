"""The deploy kit's service files: the systemd units (``systemd-analyze verify``), the Containerfile,
the compose stack and the Kubernetes manifests (``kubernetes-validate``, with the schemas it ships),
each checked against Haven's own settings loader. The monitoring files are test_kit_monitoring.py's."""

from __future__ import annotations

import base64
import inspect
import json
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from granian import Granian

from haven import settings as settings_module

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SYSTEMD = DEPLOY / "systemd"
KUBERNETES = DEPLOY / "kubernetes"
# The oldest Kubernetes the manifests are for, and the newest the installed kubernetes-validate knows
# (test_kubernetes_validate_reads_the_schemas_it_ships fails if a later release drops the first).
KUBERNETES_VERSIONS = ("1.30", ".".join(kubernetes_validate.latest_version().split(".")[:2]))
# Where the kit installs Haven on a host (deploy/README.md: a virtualenv in /opt/haven).
INSTALL_PREFIX = "/opt/haven"
# Keys Haven needs to be the same in every process of a cluster: never left to each to generate.
SHARED_SECRETS = ("HAVEN_SECRET_KEY", "HAVEN_DATA_KEY", "HAVEN_ADMIN_TOKEN")


def sample_secrets() -> dict[str, str]:
    """Values of the kind an operator generates (deploy/compose.env.example says how)."""
    return {
        "HAVEN_SECRET_KEY": secrets.token_urlsafe(48),
        "HAVEN_DATA_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "HAVEN_ADMIN_TOKEN": secrets.token_urlsafe(32),
        "POSTGRES_PASSWORD": secrets.token_hex(24),
    }


def haven_settings(env: Mapping[str, str], tmp_path: Path) -> settings_module.Settings:
    """The settings Haven starts with from ``env``: every HAVEN_* name must be a setting and every
    value must parse (``load`` refuses anything else, as at start-up). HAVEN_VAR_DIR is checked,
    then pointed at ``tmp_path``, so that a key the file leaves to be generated is written there
    and not into this machine's /var/lib."""
    haven = {name: value for name, value in env.items() if name.startswith(settings_module.PREFIX)}
    assert haven, "no HAVEN_* setting at all"
    var_dir = haven.get("HAVEN_VAR_DIR")
    assert var_dir is None or Path(var_dir).is_absolute(), f"HAVEN_VAR_DIR={var_dir!r} should be absolute"
    return settings_module.load({**haven, "HAVEN_VAR_DIR": str(tmp_path / "var")})


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        pytest.fail(f"{name} is missing: `scripts/ensure-system-deps {name}` installs it (make test does)")
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_every_file_of_the_kit_is_in_its_readme() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.name != "README.md":
            relative = str(path.relative_to(DEPLOY))
            assert relative in readme or path.name in readme, f"deploy/README.md says nothing of {relative}"


# systemd ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A unit file as systemd reads it: sections of (key, value), keys repeated where they may be."""

    sections: dict[str, list[tuple[str, str]]]

    @classmethod
    def read(cls, path: Path) -> Unit:
        sections: dict[str, list[tuple[str, str]]] = {}
        current: list[tuple[str, str]] | None = None
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), [])
                continue
            assert current is not None, f"{path.name}: {line!r} before any section"
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
        return cls(sections)

    def values(self, section: str, key: str) -> list[str]:
        return [value for name, value in self.sections.get(section, []) if name == key]

    def value(self, section: str, key: str) -> str:
        found = self.values(section, key)
        assert len(found) == 1, f"[{section}] {key}= should be set once, found {found}"
        return found[0]


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (systemd's EnvironmentFile=, as this kit writes them: no quotes)."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r}"
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", name), f"{path.name}: {line!r}"
        assert not value.startswith(("'", '"')), f"{path.name}: {name} is quoted; the kit's values are not"
        env[name] = value
    return env


UNITS = ("haven.service", "haven-migrate.service")


def installed_copies(folder: Path) -> list[Path]:
    """The units as verified here: copies whose only change is the install prefix, /opt/haven
    becoming this virtualenv (systemd-analyze verify checks that ExecStart's program exists)."""
    venv = Path(sys.executable).parent.parent
    assert (venv / "bin" / "haven").exists(), "the haven command is not installed in this virtualenv"
    copies = []
    for name in UNITS:
        text = (SYSTEMD / name).read_text()
        assert f"{INSTALL_PREFIX}/bin/haven " in text, f"{name} should run {INSTALL_PREFIX}/bin/haven"
        copy = folder / name
        copy.write_text(text.replace(INSTALL_PREFIX + "/", f"{venv}/"))
        copies.append(copy)
    return copies


def verify(*units: Path) -> str:
    """What ``systemd-analyze verify`` says: nothing when the units are right. It reports unknown
    keys and bad values as warnings and still exits 0, so its output is the verdict."""
    result = run(tool("systemd-analyze"), "verify", "--man=no", "--generators=no", *map(str, units))
    said = (result.stdout + result.stderr).strip()
    return said if result.returncode == 0 else f"{said} (exit {result.returncode})"


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """Verified as copies in which /opt/haven, where the units expect Haven installed, is this
    virtualenv, and nothing else changes: verify insists that ExecStart's program exists."""
    assert verify(*installed_copies(tmp_path)) == ""


def test_systemd_analyze_verify_speaks_up_about_a_misspelt_directive(tmp_path: Path) -> None:
    service = installed_copies(tmp_path)[0]
    service.write_text(service.read_text().replace("PrivateTmp=yes", "PrivateTemp=yes"))
    assert "PrivateTemp" in verify(service)


def test_haven_service_runs_haven_serve_as_its_own_user_in_a_sandbox() -> None:
    unit = Unit.read(SYSTEMD / "haven.service")
    assert unit.value("Service", "ExecStart") == f"{INSTALL_PREFIX}/bin/haven serve"
    assert unit.value("Service", "User") not in ("", "root", "0")
    assert unit.value("Service", "EnvironmentFile") == "/etc/haven/haven.env"
    assert unit.value("Service", "Restart") == "on-failure"
    for key, value in {
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert unit.value("Service", key) == value, key
    assert unit.value("Install", "WantedBy") == "multi-user.target"


def test_haven_service_allows_well_over_haven_connections_open_files(tmp_path: Path) -> None:
    unit = Unit.read(SYSTEMD / "haven.service")
    env = env_file(SYSTEMD / "haven.env")
    for assignment in unit.values("Service", "Environment"):
        env.update(dict(item.split("=", 1) for item in shlex.split(assignment)))
    connections = haven_settings(env, tmp_path).connections  # the default when neither sets it
    limit = int(unit.value("Service", "LimitNOFILE"))
    # Each worker process holds up to HAVEN_CONNECTIONS sockets, and its database and Redis
    # connections and files besides (`haven serve` warns below HAVEN_CONNECTIONS + 64).
    assert limit >= 2 * connections, f"LimitNOFILE={limit} for HAVEN_CONNECTIONS={connections}"


def test_the_example_environment_file_is_settings_haven_accepts(tmp_path: Path) -> None:
    env = env_file(SYSTEMD / "haven.env")
    settings = haven_settings(env, tmp_path)
    assert settings.behind_proxy, "haven.service runs behind nginx"
    # The var dir is the unit's StateDirectory: the one path ProtectSystem=strict leaves writable.
    state = Unit.read(SYSTEMD / "haven.service").value("Service", "StateDirectory")
    assert env["HAVEN_VAR_DIR"] == f"/var/lib/{state}"


def test_the_migration_runs_before_haven_on_the_host_that_enables_it() -> None:
    serve, migrate = (Unit.read(SYSTEMD / name) for name in UNITS)
    assert migrate.value("Service", "Type") == "oneshot"
    assert migrate.value("Service", "ExecStart") == f"{INSTALL_PREFIX}/bin/haven migrate"
    assert migrate.value("Install", "RequiredBy") == "haven.service"
    assert "haven.service" in migrate.value("Unit", "Before").split()
    assert "haven-migrate.service" in serve.value("Unit", "After").split()
    # The same settings, and the same user and state as the service it prepares.
    assert migrate.values("Service", "EnvironmentFile")[0] == serve.value("Service", "EnvironmentFile")
    for key in ("User", "Group", "StateDirectory", "ProtectSystem", "NoNewPrivileges"):
        assert migrate.value("Service", key) == serve.value("Service", key), key


def test_the_sysusers_file_makes_the_units_user_with_the_var_dir_as_home(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    result = run(tool("systemd-sysusers"), f"--root={root}", str(SYSTEMD / "haven.sysusers"))
    assert result.returncode == 0, result.stderr
    user = Unit.read(SYSTEMD / "haven.service").value("Service", "User")
    entries = [line.split(":") for line in (root / "etc" / "passwd").read_text().splitlines()]
    home = {entry[0]: entry[5] for entry in entries}
    assert home.get(user) == env_file(SYSTEMD / "haven.env")["HAVEN_VAR_DIR"]


def test_there_is_no_socket_unit_because_granian_binds_its_own_socket() -> None:
    """haven.service says Granian cannot take an inherited listening socket: while that holds,
    a haven.socket could not be served from. This fails when Granian gains the option."""
    assert not list(SYSTEMD.glob("*.socket"))
    parameters = set(inspect.signature(Granian).parameters)
    assert {"address", "port", "uds"} <= parameters, "Granian's binding options changed: re-read them"
    assert not parameters & {"fd", "fds", "sock", "socket", "socket_fd", "listen_fd"}


# Containerfile -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def containerfile_stages(path: Path) -> list[list[Instruction]]:
    """The instructions of each stage (the ARGs before the first FROM are left out), with lines
    continued by a backslash joined and comments dropped, as the builder reads them."""
    stages: list[list[Instruction]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        pending = ""
        instruction = Instruction(keyword.upper(), arguments.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    assert not pending, "the file ends inside a continued line"
    return stages


def of(stage: list[Instruction], keyword: str) -> list[str]:
    return [instruction.arguments for instruction in stage if instruction.keyword == keyword]


def image_environment(stage: list[Instruction]) -> dict[str, str]:
    env = {}
    for arguments in of(stage, "ENV"):
        for item in shlex.split(arguments):
            name, sep, value = item.partition("=")
            assert sep, f"ENV {item!r}: the kit writes ENV name=value"
            env[name] = value
    return env


@pytest.fixture(scope="module")
def image() -> list[list[Instruction]]:
    return containerfile_stages(DEPLOY / "Containerfile")


def image_user(stage: list[Instruction]) -> tuple[int, int]:
    (user,) = of(stage, "USER")
    uid, _, gid = user.partition(":")
    # Numeric, so that Kubernetes can check runAsNonRoot.
    assert uid.isdigit(), f"USER {user}"
    assert gid.isdigit(), f"USER {user}"
    return int(uid), int(gid)


def test_the_image_runs_as_a_user_who_is_not_root(image: list[list[Instruction]]) -> None:
    uid, gid = image_user(image[-1])
    assert uid != 0
    assert gid != 0


def test_the_image_installs_havens_wheel_built_in_the_first_stage(image: list[list[Instruction]]) -> None:
    build, runtime = image
    name = build[0].arguments.split()[-1]
    assert build[0].arguments.split()[-2].upper() == "AS", "the build stage is named"
    made = r"pip wheel --wheel-dir (\S+) \.$"
    wheels = {found for run in of(build, "RUN") for found in re.findall(made, run)}
    assert len(wheels) == 1, "the build stage makes Haven's wheel (and its dependencies') with pip wheel"
    (wheel_dir,) = wheels
    installs = [run for run in of(runtime, "RUN") if "pip install" in run]
    assert len(installs) == 1
    mount = re.search(r"--mount=type=bind,from=(\S+?),source=(\S+?),target=(\S+)", installs[0])
    assert mount, "the runtime stage mounts the build stage's wheels"
    assert mount.group(1, 2) == (name, wheel_dir)
    assert f"pip install --no-index --find-links {mount.group(3)} haven" in installs[0]
    # The source never reaches the runtime image: only what pip installed from the wheel.
    assert of(runtime, "COPY") + of(runtime, "ADD") == []
    assert runtime[0].arguments == build[0].arguments.rsplit(" AS ", 1)[0], "the same Python in both"


def test_the_build_context_holds_what_the_build_stage_copies(image: list[list[Instruction]]) -> None:
    ignored = (DEPLOY / "Containerfile.dockerignore").read_text().splitlines()
    kept = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    copied = [source for arguments in of(image[0], "COPY") for source in arguments.split()[:-1]]
    assert copied
    for source in copied:
        assert (REPO / source).exists(), source
        assert source in kept, f"{source} is left out of the context by Containerfile.dockerignore"


def test_the_image_settings_are_havens_and_it_exposes_haven_port(
    image: list[list[Instruction]], tmp_path: Path
) -> None:
    runtime = image[-1]
    env = image_environment(runtime)
    settings = haven_settings(env, tmp_path)
    assert settings.host == "0.0.0.0"  # noqa: S104 - a container listens on its own interfaces
    assert of(runtime, "EXPOSE") == [str(settings.port)]
    assert json.loads(of(runtime, "CMD")[0]) == ["haven", "serve"]
    # The var dir is a volume (the root filesystem may be read-only).
    volumes = json.loads(of(runtime, "VOLUME")[0])
    assert env["HAVEN_VAR_DIR"] in volumes
    (healthcheck,) = of(runtime, "HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(command))
    assert url
    assert (int(url.group(1)), url.group(2)) == (settings.port, "/healthz")
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1", "nothing writes bytecode on a read-only root"


# Compose ---------------------------------------------------------------------------------------------

COMPOSE = DEPLOY / "compose.yaml"
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_]\w*))"
)


@dataclass
class Interpolated:
    """compose.yaml with its ${...} replaced as compose does, from ``env``; what it referred to."""

    document: dict[str, Any]
    required: set[str]
    defaulted: set[str]
    bare: set[str]


def interpolate(raw: Any, env: Mapping[str, str], found: Interpolated) -> Any:
    if isinstance(raw, dict):
        return {key: interpolate(value, env, found) for key, value in raw.items()}
    if isinstance(raw, list):
        return [interpolate(value, env, found) for value in raw]
    if not isinstance(raw, str):
        return raw

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        if match.group("bare") or op is None:
            found.bare.add(name)
        elif "?" in op:
            found.required.add(name)
            if not env.get(name):
                raise AssertionError(f"compose would stop: {arg}")
        else:
            found.defaulted.add(name)
            return env.get(name) or arg
        return env.get(name, "")

    return _INTERPOLATION.sub(replace, raw)


def compose_with(env: Mapping[str, str]) -> Interpolated:
    found = Interpolated({}, set(), set(), set())
    found.document = interpolate(yaml.safe_load(COMPOSE.read_text()), env, found)
    return found


def example_env() -> dict[str, str]:
    """deploy/compose.env.example with the empty values filled in as an operator would."""
    env = env_file(DEPLOY / "compose.env.example")
    generated = sample_secrets()
    return {name: value or generated[name] for name, value in env.items()}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_with(example_env()).document


def haven_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("build", {}).get("dockerfile") == "deploy/Containerfile"
    }


def test_compose_runs_the_whole_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"nginx", "haven", "migrate", "export", "postgres", "pgbouncer"} <= set(services)
    assert len([name for name in services if name.startswith("sentinel-")]) == 3
    assert len([name for name in services if name.startswith("redis-")]) >= 2
    assert services["haven"]["deploy"]["replicas"] >= 2
    assert set(haven_services(compose)) == {"haven", "migrate", "export"}


def test_compose_stops_without_the_shared_keys_and_the_example_lists_every_variable() -> None:
    found = compose_with(example_env())
    raw = yaml.safe_load(COMPOSE.read_text())["x-haven-environment"]
    for name in SHARED_SECRETS:
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", raw[name]), f"{name} should be required"
    assert not found.bare, f"${{NAME}} without a default or :? hides a missing value: {found.bare}"
    assert found.required | found.defaulted <= set(env_file(DEPLOY / "compose.env.example"))
    with pytest.raises(AssertionError, match="set HAVEN_SECRET_KEY"):
        compose_with({**example_env(), "HAVEN_SECRET_KEY": ""})


def test_every_haven_container_gets_settings_haven_accepts(compose: dict[str, Any], tmp_path: Path) -> None:
    for name, service in haven_services(compose).items():
        settings = haven_settings(service["environment"], tmp_path / name)
        assert settings.shared_room, f"{name}: the replicas share one waiting room"
        assert not settings.database_url.startswith("sqlite"), name


def test_the_havens_read_only_root_has_a_writable_var_dir(compose: dict[str, Any]) -> None:
    for name, service in haven_services(compose).items():
        assert service["read_only"] is True, name
        var_dir = service["environment"]["HAVEN_VAR_DIR"]
        mounts = [entry.split(":")[0] for entry in service.get("tmpfs", [])]
        mounts += [entry.split(":")[1] for entry in service.get("volumes", [])]
        assert var_dir in mounts, f"{name}: nothing writable at {var_dir}"
    for name in ("nginx", "pgbouncer", "redis-1", "sentinel-1"):
        assert compose["services"][name]["read_only"] is True, name


def test_every_dependency_exists_and_waits_on_what_it_can_see(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for other, condition in service.get("depends_on", {}).items():
            assert other in services, f"{name} depends on {other}, which is not a service"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[other], f"{name} waits for {other} to be healthy"
            elif condition["condition"] == "service_completed_successfully":
                assert services[other]["restart"] == "no", f"{other} runs once"
                assert "command" in services[other], other
            else:
                raise AssertionError(f"{name}: condition {condition} on {other}")
    haven = services["haven"]["depends_on"]
    assert haven["migrate"]["condition"] == "service_completed_successfully"
    assert {"pgbouncer", "sentinel-1", "sentinel-2", "sentinel-3"} <= set(haven)
    assert services["nginx"]["depends_on"]["export"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["haven", "migrate"]
    assert services["export"]["command"][:2] == ["haven", "export-static"]


def test_havens_database_is_pgbouncer_and_its_migrations_go_to_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    ini = (DEPLOY / "compose" / "pgbouncer.ini").read_text()
    pooled = urlsplit(services["haven"]["environment"]["HAVEN_DATABASE_URL"])
    assert pooled.hostname == "pgbouncer"
    assert re.search(rf"^listen_port = {pooled.port}$", ini, re.MULTILINE)
    assert re.search(r"^pool_mode = transaction$", ini, re.MULTILINE)
    assert services["haven"]["environment"]["HAVEN_DATABASE_PGBOUNCER"] == "true"
    direct = urlsplit(services["migrate"]["environment"]["HAVEN_DATABASE_URL"])
    assert (direct.hostname, direct.port) == ("postgres", 5432)
    assert services["migrate"]["environment"]["HAVEN_DATABASE_PGBOUNCER"] == "false"
    database = re.search(r"^haven = host=(\S+) port=(\d+) dbname=(\S+)$", ini, re.MULTILINE)
    assert database
    assert database.groups() == ("postgres", "5432", pooled.path.lstrip("/"))


def test_haven_asks_the_three_sentinels_which_watch_the_redis_primary(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = services["haven"]["environment"]
    sentinels = env["HAVEN_REDIS_SENTINELS"].split(",")
    assert sorted(item.split(":")[0] for item in sentinels) == ["sentinel-1", "sentinel-2", "sentinel-3"]
    config = (DEPLOY / "compose" / "sentinel.conf").read_text()
    for item in sentinels:
        name, port = item.split(":")
        assert "./compose/sentinel.conf:/etc/haven/sentinel.conf:ro" in services[name]["volumes"]
        assert re.search(rf"^port {port}$", config, re.MULTILINE)
    monitor = re.search(r"^sentinel monitor (\S+) (\S+) (\d+) (\d+)$", config, re.MULTILINE)
    assert monitor
    master, host, _port, quorum = monitor.groups()
    assert master == env["HAVEN_REDIS_MASTER"]
    assert host in services
    assert len(sentinels) // 2 < int(quorum) <= len(sentinels)
    down_after = re.search(rf"^sentinel down-after-milliseconds {master} (\d+)$", config, re.MULTILINE)
    assert down_after
    assert int(env["HAVEN_REDIS_FAILOVER_SECONDS"]) * 1000 > int(down_after.group(1))


def test_only_nginx_is_reachable_from_outside(compose: dict[str, Any]) -> None:
    published = [name for name, service in compose["services"].items() if service.get("ports")]
    assert published == ["nginx"]
    assert compose["networks"]["backend"]["internal"] is True
    assert "backend" in compose["services"]["nginx"]["networks"]


def test_the_files_compose_mounts_are_in_the_kit(compose: dict[str, Any]) -> None:
    mounted = [
        entry.split(":")[0]
        for service in compose["services"].values()
        for entry in service.get("volumes", [])
        if entry.startswith("./")
    ]
    assert mounted
    for source in mounted:
        assert (DEPLOY / source).is_file(), source


def test_compose_nginx_is_deploy_nginx_conf_but_for_its_upstream() -> None:
    def body(path: Path) -> list[str]:
        lines = path.read_text().splitlines()
        start = lines.index("upstream haven_app {")  # the header comment differs, and says why
        return [line for line in lines[start:] if not line.strip().startswith("#")]

    original, variant = body(DEPLOY / "nginx.conf"), body(DEPLOY / "compose" / "nginx.conf")
    assert "    server 127.0.0.1:8000;" in original
    upstream = {"    server 127.0.0.1:8000;": "    server haven:8000;"}
    assert variant == [upstream.get(line, line) for line in original]


# Kubernetes -----------------------------------------------------------------------------------------


def manifests(name: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all((KUBERNETES / name).read_text()) if document]


def kind(documents: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    (found,) = [document for document in documents if document["kind"] == wanted]
    return found


def validated(document: dict[str, Any]) -> Iterator[str]:
    """Schema errors of ``document`` (strict: unknown fields too) for each Kubernetes version."""
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            yield f"{version}: {'.'.join(map(str, error.path))}: {error.message}"


def test_kubernetes_validate_reads_the_schemas_it_ships() -> None:
    """No download at test time: every version's schemas are files of the installed package."""
    schemas = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    for version in KUBERNETES_VERSIONS:
        folder = schemas / f"v{version}.0-local-strict"
        assert folder.is_dir(), f"kubernetes-validate ships no schemas for {version}"
        assert (folder / "deployment-apps-v1.json").is_file()


@pytest.mark.parametrize("name", ["haven.yaml", "migrate.yaml", "hpa.yaml"])
def test_the_manifests_validate_against_kubernetes_schemas(name: str) -> None:
    for document in manifests(name):
        assert list(validated(document)) == [], f"{name}: {document['kind']}"


def test_the_validation_catches_a_misspelt_field() -> None:
    deployment = kind(manifests("haven.yaml"), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    assert any("readinesProbe" in error for error in validated(deployment))


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    return kind(manifests("haven.yaml"), "Deployment")


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def container_env(container: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    """The literal values, with each Secret's filled in by a sample; and the names from Secrets."""
    samples = {
        **sample_secrets(),
        "HAVEN_DATABASE_URL": "postgresql://haven:secret@haven-pgbouncer:6432/haven",
        "HAVEN_SMTP_PASSWORD": secrets.token_urlsafe(24),
    }
    literal: dict[str, str] = {}
    from_secrets: set[str] = set()
    for item in container["env"]:
        if "value" in item:
            literal[item["name"]] = item["value"]
        else:
            assert "secretKeyRef" in item["valueFrom"], item["name"]
            from_secrets.add(item["name"])
            literal[item["name"]] = samples[item["name"]]
    return literal, from_secrets


def test_the_pods_get_settings_haven_accepts_with_shared_keys_from_a_secret(
    deployment: dict[str, Any], tmp_path: Path
) -> None:
    env, from_secrets = container_env(container_of(deployment))
    settings = haven_settings(env, tmp_path)
    assert settings.shared_room
    assert settings.database_pgbouncer
    assert set(SHARED_SECRETS) | {"HAVEN_DATABASE_URL", "HAVEN_SMTP_PASSWORD"} <= from_secrets
    assert settings.mail_backend == "smtp"  # a pod's emails must leave it
    (port,) = container_of(deployment)["ports"]
    assert port["containerPort"] == settings.port


def test_the_pods_probe_readyz_and_healthz_on_havens_port(deployment: dict[str, Any]) -> None:
    container = container_of(deployment)
    (port,) = container["ports"]
    probes = {"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"}
    for probe, path in probes.items():
        assert container[probe]["httpGet"] == {"path": path, "port": port["name"]}, probe


def test_the_pods_run_as_the_images_user_on_a_read_only_root(
    deployment: dict[str, Any], image: list[list[Instruction]]
) -> None:
    pod = deployment["spec"]["template"]["spec"]
    container = container_of(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    uid, gid = image_user(image[-1])
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (uid, gid)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= set(container["resources"])
    env = {item["name"]: item.get("value") for item in container["env"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    (var,) = [mount for mount in container["volumeMounts"] if mount["mountPath"] == env["HAVEN_VAR_DIR"]]
    assert {"emptyDir", "persistentVolumeClaim"} & set(volumes[var["name"]])


def test_the_service_and_the_disruption_budget_select_the_pods(deployment: dict[str, Any]) -> None:
    documents = manifests("haven.yaml")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service, budget = kind(documents, "Service"), kind(documents, "PodDisruptionBudget")
    assert service["spec"]["selector"].items() <= labels.items()
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (port,) = container_of(deployment)["ports"]
    assert {entry["targetPort"] for entry in service["spec"]["ports"]} == {port["name"]}
    assert budget["spec"]["maxUnavailable"] < deployment["spec"]["replicas"]
    podmonitor = manifests("podmonitor.yaml")[0]
    assert (podmonitor["apiVersion"], podmonitor["kind"]) == ("monitoring.coreos.com/v1", "PodMonitor")
    assert podmonitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert [endpoint["port"] for endpoint in podmonitor["spec"]["podMetricsEndpoints"]] == [port["name"]]
    assert {document["metadata"]["namespace"] for document in [*documents, podmonitor]} == {"haven"}


def test_the_migration_job_runs_haven_migrate_against_postgresql(tmp_path: Path) -> None:
    job = kind(manifests("migrate.yaml"), "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["haven", "migrate"]
    env, from_secrets = container_env(container)
    refs = {
        item["name"]: item["valueFrom"]["secretKeyRef"]["key"]
        for item in container["env"]
        if "valueFrom" in item
    }
    assert refs["HAVEN_DATABASE_URL"] == "migrate-database-url", "PostgreSQL itself, not PgBouncer"
    assert not haven_settings(env, tmp_path).database_pgbouncer
    assert set(SHARED_SECRETS) <= from_secrets
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_keda_scaled_object_scales_the_deployment_on_prometheus(deployment: dict[str, Any]) -> None:
    """KEDA's CRD is not among kubernetes-validate's schemas: its structure is checked here, and
    the HPA behaviour it passes on is validated as the HPA KEDA makes from it would be."""
    (scaled,) = manifests("keda.yaml")
    assert (scaled["apiVersion"], scaled["kind"]) == ("keda.sh/v1alpha1", "ScaledObject")
    assert scaled["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    spec = scaled["spec"]
    known = {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "idleReplicaCount", "minReplicaCount",
             "maxReplicaCount", "fallback", "advanced", "triggers"}  # fmt: skip
    assert set(spec) <= known, set(spec) - known
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
    assert spec["scaleTargetRef"] == target
    budget = kind(manifests("haven.yaml"), "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] < spec["minReplicaCount"] <= spec["maxReplicaCount"]
    assert spec["triggers"]
    for trigger in spec["triggers"]:
        assert set(trigger) <= {"type", "name", "metadata", "metricType"}
        assert trigger["type"] == "prometheus"
        assert trigger["metricType"] in ("AverageValue", "Value")
        metadata = trigger["metadata"]
        assert set(metadata) >= {"serverAddress", "query", "threshold"}, metadata
        assert urlsplit(metadata["serverAddress"]).scheme in ("http", "https")
        assert isinstance(metadata["threshold"], str), "KEDA takes the threshold as a string"
        assert float(metadata["threshold"]) > 0
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-hpa-haven", "namespace": "haven"},
        "spec": {
            "scaleTargetRef": spec["scaleTargetRef"],
            "minReplicas": spec["minReplicaCount"],
            "maxReplicas": spec["maxReplicaCount"],
            "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"],
        },
    }
    assert list(validated(hpa)) == []


def test_the_hpa_alternative_scales_the_same_deployment(deployment: dict[str, Any]) -> None:
    hpa = kind(manifests("hpa.yaml"), "HorizontalPodAutoscaler")
    (scaled,) = manifests("keda.yaml")
    assert hpa["spec"]["scaleTargetRef"] == scaled["spec"]["scaleTargetRef"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
        scaled["spec"]["minReplicaCount"],
        scaled["spec"]["maxReplicaCount"],
    )
    # Its CPU target is a share of what each pod requests.
    assert container_of(deployment)["resources"]["requests"]["cpu"]
