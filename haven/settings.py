"""Haven's settings: one typed value per ``HAVEN_*`` environment variable, checked at start-up.

Every setting has a help string, which is also the README's settings table (``make docs``). A bad
value, or a HAVEN_* name that is not a setting, stops start-up with a message naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import difflib
import ipaddress
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
DATA_KEY_FILE = "data_key"
ADMIN_TOKEN_FILE = "admin_token"  # noqa: S105 - a file name, not a secret
MIN_SECRET_KEY_LENGTH = 32
PREFIX = "HAVEN_"
# The test suite's own variables (HAVEN_TEST_POSTGRES, HAVEN_TEST_REDIS) reach the servers the tests
# start; Haven never reads them, so they are exempt from the unknown-name check.
TEST_PREFIX = "HAVEN_TEST_"


class SettingsError(ValueError):
    """A setting has a value Haven cannot run with; the message names the variable."""


def _setting(default: Any, help: str, *, shown: str | None = None, secret: bool = False) -> Any:
    """A setting's field; a ``secret`` one is left out of the settings' ``repr`` (and so of any log
    or traceback that prints them)."""
    return field(default=default, metadata={"help": help, "shown": shown}, repr=not secret)


def _parse_host(raw: str) -> str:
    if raw in ("localhost", "0.0.0.0", "::"):  # noqa: S104 - binding all interfaces is the operator's call
        return raw
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        raise ValueError("must be an IP address such as 127.0.0.1, or 0.0.0.0 for all") from None
    return raw


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number between {low} and {high}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _parse_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("must be an absolute http(s) address such as https://haven.example.ca")
    return raw.rstrip("/")


def _parse_database_url(raw: str) -> str:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme.startswith("postgresql"):
        return "postgresql+asyncpg://" + raw.split("://", 1)[1]
    if scheme.startswith("sqlite"):
        return "sqlite+aiosqlite://" + raw.split("://", 1)[1]
    raise ValueError("must start with sqlite:// or postgresql://")


def is_sqlite_url(url: str) -> bool:
    return url.startswith("sqlite")


def _parse_email(raw: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", raw):
        raise ValueError("must be an email address such as help@haven.example.ca")
    return raw


def _parse_log_level(raw: str) -> str:
    level = raw.lower()
    if level not in ("debug", "info", "warning", "error"):
        raise ValueError("must be one of debug, info, warning, error")
    return level


def _parse_secret(raw: str) -> str:
    if len(raw) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_KEY_LENGTH} characters long")
    return raw


def _parse_data_key(raw: str) -> str:
    try:
        key = base64.urlsafe_b64decode(raw.encode())
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise ValueError("must be 32 bytes in URL-safe base64 (44 characters)")
    return raw


def _parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _parse_redis_url(raw: str) -> str:
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return raw


def _parse_sentinels(raw: str) -> tuple[str, ...]:
    sentinels = tuple(item.strip() for item in raw.split(",") if item.strip())
    for item in sentinels:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{item!r} is not host:port")
    return sentinels


def _parse_master(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", raw):
        raise ValueError("must be 1 to 64 letters, digits, dots, dashes or underscores")
    return raw


def _parse_keys(raw: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in raw.split(",") if key.strip())
    for key in keys:
        _parse_secret(key)
    return keys


def _parse_room(raw: str) -> str:
    if not re.fullmatch(r"[a-z0-9-]{1,40}", raw):
        raise ValueError("must be 1 to 40 lowercase letters, digits or dashes")
    return raw


def _parse_mail_backend(raw: str) -> str:
    if raw not in ("file", "console", "smtp"):
        raise ValueError("must be file, console or smtp")
    return raw


_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


def _parse_smtp_host(raw: str) -> str:
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        if len(raw) > 253 or not _HOST_NAME.fullmatch(raw):
            raise ValueError(
                "must be a host name such as smtp.example.ca or an IP address (no smtp://, and the "
                "port goes in HAVEN_SMTP_PORT)"
            ) from None
    return raw


def _parse_smtp_security(raw: str) -> str:
    security = raw.lower()
    if security not in ("starttls", "tls", "none"):
        raise ValueError("must be starttls, tls or none")
    return security


def _parse_smtp_password(raw: str) -> str:
    # Every text is a valid password, so the error message (which quotes the value) never shows one.
    return raw


_PARSERS: dict[str, Callable[[str], Any]] = {
    "host": _parse_host,
    "port": _int_between(1, 65535),
    "workers": _int_between(1, 64),
    "connections": _int_between(128, 1_000_000),
    "public_url": _parse_url,
    "var_dir": Path,
    "database_url": _parse_database_url,
    "secret_key": _parse_secret,
    "contact_email": _parse_email,
    "mail_from": _parse_email,
    "log_level": _parse_log_level,
    "data_key": _parse_data_key,
    "mail_backend": _parse_mail_backend,
    "mail_dir": Path,
    "smtp_host": _parse_smtp_host,
    "smtp_port": _int_between(1, 65535),
    "smtp_security": _parse_smtp_security,
    "smtp_user": str,
    "smtp_password": _parse_smtp_password,
    "argon2_time_cost": _int_between(1, 20),
    "argon2_memory_kib": _int_between(8, 4 * 1024 * 1024),
    "behind_proxy": _parse_bool,
    "shield": _parse_bool,
    "redis_url": _parse_redis_url,
    "redis_sentinels": _parse_sentinels,
    "redis_master": _parse_master,
    "redis_failover_seconds": _int_between(0, 300),
    "database_pgbouncer": _parse_bool,
    "shield_old_keys": _parse_keys,
    "room": _parse_room,
    "admin_token": _parse_secret,
    "pass_minutes": _int_between(1, 24 * 60),
    "place_kept_minutes": _int_between(1, 24 * 60),
    "turn_link_minutes": _int_between(1, 24 * 60),
    "turn_mails_per_address": _int_between(1, 1_000_000),
    "turn_mails_per_client": _int_between(1, 1_000_000),
    "admit_start": _int_between(1, 100_000),
    "rate_per_address": _int_between(1, 1_000_000),
    "rate_per_visitor": _int_between(1, 1_000_000),
    "joins_per_address": _int_between(1, 1_000_000),
    "join_work": _int_between(0, 24),
}


@dataclass(frozen=True)
class Settings:
    # Help is Markdown (`code`, **strong**): it is the README's settings table (``make docs``) and,
    # without the marks, ``haven settings``. ``shown`` is the default as the table words it, where
    # the value itself would mislead (an empty string that means "generated").
    host: str = _setting("127.0.0.1", "Address the server listens on.")
    port: int = _setting(8000, "Port the server listens on.")
    workers: int = _setting(
        1,
        "Server worker processes. One per core is a good start; more need `HAVEN_DATABASE_URL` and "
        "`HAVEN_REDIS_URL` (one shared waiting room).",
    )
    connections: int = _setting(
        16384,
        "Open connections each worker accepts (Granian's backpressure). A waiting crowd keeps many idle "
        "connections between checks; the shield, not this number, limits the work. Keep `ulimit -n` "
        "above it.",
    )
    public_url: str = _setting(
        "",
        "The portal's public address, used in the sitemap and canonical links. When it is `https://`, "
        "every cookie Haven sets is `Secure`, whatever the proxy in front says.",
        shown="`http://HOST:PORT`",
    )
    var_dir: Path = _setting(  # noqa: RUF009 - a Path is immutable, sharing it is safe
        Path("var"),
        "Folder for local state: the SQLite database, the generated keys and admin token, the file "
        "mail backend's emails, the in-memory waiting room's line between a clean stop and the next "
        "start (`room.json`), and, with several workers, each worker's figures for `/metrics`.",
    )
    database_url: str = _setting(
        "",
        "Database address; `postgresql://user@host/db` for PostgreSQL.",
        shown="SQLite in `HAVEN_VAR_DIR`",
    )
    database_pgbouncer: bool = _setting(
        False,
        "Set to `true` when `HAVEN_DATABASE_URL` points at PgBouncer in transaction mode: Haven then "
        "keeps no prepared statements on the server (a pooled connection may belong to another client "
        "at the next transaction) and lets PgBouncer do the pooling.",
    )
    secret_key: str = _setting(
        "",
        "Key that signs cookies, at least 32 characters. When unset, one is generated once and kept in "
        "`HAVEN_VAR_DIR/secret_key` (never commit it; `var/` is ignored by git).",
        shown="generated",
        secret=True,
    )
    contact_email: str = _setting(
        "help@haven.invalid",
        "Address shown on the help page for questions about the portal itself.",
    )
    log_level: str = _setting("info", "Log level: debug, info, warning or error.")
    data_key: str = _setting(
        "",
        "Key that encrypts passport numbers at rest (and, for an hour, what a person typed on a "
        "profile page after their session ended): 32 bytes in URL-safe base64. When unset, one is "
        "generated once and kept in `HAVEN_VAR_DIR/data_key`. Every worker needs the same one. "
        "**Back it up**: without it, stored passport numbers cannot be read.",
        shown="generated",
        secret=True,
    )
    mail_backend: str = _setting(
        "file",
        "Where Haven's emails go: `file` (one `.eml` file each, in `HAVEN_MAIL_DIR`), `console` (the "
        "log) or `smtp` (a mail relay, `HAVEN_SMTP_HOST`). Emails wait in an outbox table until "
        "delivered; one the relay refuses for good is kept there, marked failed, and not sent again.",
    )
    mail_from: str = _setting(
        "no-reply@haven.invalid",
        "Address Haven's emails come from (their `From`, with the name Haven). With `smtp`, one the relay "
        "lets Haven send from; the default is refused there.",
    )
    mail_dir: Path | None = _setting(  # noqa: RUF009 - None and a Path are immutable, sharing is safe
        None, "Folder for the file mail backend (default: `HAVEN_VAR_DIR/mail`)."
    )
    smtp_host: str = _setting(
        "", "The mail relay's host name or IP address, with `HAVEN_MAIL_BACKEND=smtp` (required then)."
    )
    smtp_port: int | None = _setting(
        None,
        "The relay's port; the default follows `HAVEN_SMTP_SECURITY`.",
        shown="`587`; `465` with `tls`, `25` with `none`",
    )
    smtp_security: str = _setting(
        "starttls",
        "How the connection to the relay is encrypted: `starttls` (plain, then upgraded to TLS "
        "before anything is sent; the relay must offer it), `tls` (TLS from the start, as on port "
        "465) or `none` (unencrypted: only for a relay on the same host or a private network). The "
        "relay's certificate and name are checked against the system's trusted authorities.",
    )
    smtp_user: str = _setting(
        "",
        "User name Haven signs in to the relay with (SMTP AUTH), with `HAVEN_SMTP_PASSWORD`. Unset: Haven "
        "does not sign in.",
    )
    smtp_password: str = _setting(
        "",
        "The password of `HAVEN_SMTP_USER`. Haven never prints or logs it; pass it in the environment "
        "from a secret store rather than on a command line.",
        secret=True,
    )
    argon2_time_cost: int = _setting(
        2,
        "Argon2id passes per password hash (parallelism is 1). With the memory below, the default is "
        "OWASP's Password Storage Cheat Sheet recommendation (m=19 MiB, t=2, p=1): a guess costs an "
        "attacker as much memory as time, and a sign-in costs the server tens of milliseconds of one "
        "core, not hundreds. A hash made with other parameters is made again at its next sign-in.",
    )
    argon2_memory_kib: int = _setting(
        19456, "Argon2id memory per password hash, in KiB (19456 = 19 MiB, OWASP's recommendation)."
    )
    behind_proxy: bool = _setting(
        False,
        "Set to `true` behind nginx or a load balancer: the client address is then read from "
        "`X-Forwarded-For` (for the sign-in and rate limits) and cookies get `Secure` when "
        "`X-Forwarded-Proto` is `https`.",
    )

    shield: bool = _setting(
        True,
        "The shield (waiting room and admission control) in front of the dynamic pages. Turn it off "
        "only to measure what happens without it.",
    )
    redis_url: str = _setting(
        "",
        "Redis address (`redis://host:6379/0`) for a waiting room shared by every worker and host. "
        "Unset: the room lives in memory, in one process (then `HAVEN_WORKERS` must be 1). With "
        "`HAVEN_REDIS_SENTINELS` it gives only the password and database number "
        "(`redis://:password@/0`), or is left unset.",
    )
    redis_sentinels: tuple[str, ...] = _setting(
        (),
        "Redis Sentinels, comma-separated `host:port` (`10.0.0.5:26379,10.0.0.6:26379,...`): Haven asks "
        "them where the primary named `HAVEN_REDIS_MASTER` is, and follows a failover to the new one. "
        "Use this instead of a fixed address in `HAVEN_REDIS_URL` for a room that survives the loss of "
        "its Redis primary.",
        shown="none",
    )
    redis_master: str = _setting(
        "haven", "Name of the Redis primary the Sentinels watch (their `sentinel monitor` name)."
    )
    redis_failover_seconds: int = _setting(
        10,
        "With `HAVEN_REDIS_SENTINELS`: seconds the waiting room waits for the Sentinels to promote a "
        "new primary (new places and turns wait with it; people already in are not held) before each "
        "worker runs a line of its own. Longer than the Sentinels' `down-after-milliseconds` plus "
        "their failover; 0 falls back at once.",
    )
    room: str = _setting("main", "Name of the waiting room (several Havens can share one Redis).")
    shield_old_keys: tuple[str, ...] = _setting(
        (),
        "Previous secret keys, comma-separated, still accepted for queue tickets and passes while "
        "keys rotate (new ones are signed with `HAVEN_SECRET_KEY`).",
    )
    admin_token: str = _setting(
        "",
        "Bearer token of the operators' API (`/admin/api/room`) and `haven room`. When unset, one is "
        "generated once and kept in `HAVEN_VAR_DIR/admin_token`.",
        shown="generated",
        secret=True,
    )
    pass_minutes: int = _setting(
        60,
        "Minutes a visitor let in stays in without activity (each request renews it). Longer than a "
        "signed-in session's 30 idle minutes, so that someone whose session lapsed signs in again "
        "without queueing again.",
    )
    place_kept_minutes: int = _setting(
        10,
        "Minutes a person has to come back and go in once their turn has come (nobody needs to keep "
        "the waiting page open: a place is kept while the line moves up to it).",
    )
    turn_link_minutes: int = _setting(
        15,
        'Minutes the link in a "your turn" email lets its holder in (people who leave an email '
        "address on the waiting page instead of keeping it open); their place is held meanwhile.",
    )
    turn_mails_per_address: int = _setting(
        3, '"Your turn" emails one email address may be given for in an hour (all workers together).'
    )
    turn_mails_per_client: int = _setting(
        10, '"Your turn" email addresses one client address may leave in an hour (all workers together).'
    )
    admit_start: int = _setting(
        5,
        "New visitors let in per second per worker at first, and after a calm: the room's rate grows "
        "from here while it is used and the origin keeps up; a crowd faster than it queues.",
    )
    rate_per_address: int = _setting(
        600, "Requests to dynamic pages and the API allowed per client address per minute, per worker."
    )
    rate_per_visitor: int = _setting(240, "Requests allowed per admitted visitor per minute, per worker.")
    joins_per_address: int = _setting(
        120, "New places in the queue allowed per client address per minute, per worker."
    )

    join_work: int = _setting(
        0,
        "Proof-of-work to join the queue, in bits (0: off; 16 costs a browser about a second). "
        'Needs JavaScript and HTTPS; read "The shield" in the README before turning it on.',
    )

    @property
    def mail_folder(self) -> Path:
        return self.mail_dir or self.var_dir / "mail"

    @property
    def shared_room(self) -> bool:
        """Whether the waiting room lives in Redis (a fixed address or through Sentinels)."""
        return bool(self.redis_url or self.redis_sentinels)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def with_(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def env_name(name: str) -> str:
    return PREFIX + name.upper()


class SettingHelp(NamedTuple):
    """One setting as the README and ``haven settings`` describe it; both texts are Markdown."""

    variable: str
    default: str  # empty when there is none
    help: str


def describe() -> list[SettingHelp]:
    """Every setting, in declaration order."""
    return [
        SettingHelp(env_name(f.name), _shown_default(f), f.metadata["help"])
        for f in dataclasses.fields(Settings)
    ]


def _shown_default(f: dataclasses.Field[Any]) -> str:
    if f.metadata["shown"] is not None:
        return str(f.metadata["shown"])
    if f.default in ("", None, ()):
        return ""
    if isinstance(f.default, bool):
        return "`true`" if f.default else "`false`"
    return f"`{f.default}`"


def _refuse_unknown_names(env: Mapping[str, str]) -> None:
    """A misspelt name (HAVEN_REDIS_ULR) would otherwise be ignored in silence, and Haven would run
    with the default it was meant to replace: refuse every HAVEN_* name that is not a setting."""
    known = [env_name(f.name) for f in dataclasses.fields(Settings)]
    problems = []
    for name in sorted(env):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper.startswith(TEST_PREFIX) or name in known:
            continue
        # Compared without the prefix every name shares, which would make anything look close.
        closest = difflib.get_close_matches(
            upper.removeprefix(PREFIX), [k.removeprefix(PREFIX) for k in known], n=1
        )
        problems.append(
            f"{name} is not a Haven setting; did you mean {PREFIX}{closest[0]}?"
            if closest
            else f"{name} is not a Haven setting."
        )
    if problems:
        raise SettingsError(" ".join([*problems, "`haven settings` lists them all."]))


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, with the secret key and database defaults filled in."""
    env = os.environ if environ is None else environ
    _refuse_unknown_names(env)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        raw = env.get(env_name(f.name))
        if raw is None or raw.strip() == "":
            continue
        try:
            values[f.name] = _PARSERS[f.name](raw.strip())
        except ValueError as error:
            raise SettingsError(f"{env_name(f.name)}={raw!r}: {error}.") from None
    settings = Settings(**values)
    if not settings.database_url:
        settings = settings.with_(database_url=f"sqlite+aiosqlite:///{settings.var_dir / 'haven.sqlite3'}")
    if not settings.secret_key:
        settings = settings.with_(secret_key=_stored_secret_key(settings.var_dir))
    if not settings.data_key:
        settings = settings.with_(data_key=_stored_data_key(settings.var_dir))
    if not settings.admin_token:
        settings = settings.with_(admin_token=_stored_admin_token(settings.var_dir))
    if settings.redis_sentinels and settings.redis_url and urlsplit(settings.redis_url).hostname:
        raise SettingsError(
            "HAVEN_REDIS_URL: with HAVEN_REDIS_SENTINELS it gives only the password and database "
            "(redis://:password@/0); the Sentinels say where the primary is."
        )
    if settings.database_pgbouncer and is_sqlite_url(settings.database_url):
        raise SettingsError("HAVEN_DATABASE_PGBOUNCER: PgBouncer pools PostgreSQL; set HAVEN_DATABASE_URL.")
    _check_mail(settings)
    if settings.workers > 1 and settings.shield and not settings.shared_room:
        raise SettingsError(
            "HAVEN_WORKERS: more than one worker needs HAVEN_REDIS_URL (or HAVEN_REDIS_SENTINELS), so "
            "that the workers share one "
            "waiting room (or set HAVEN_SHIELD=false)."
        )
    return settings


def _check_mail(settings: Settings) -> None:
    """The SMTP settings that only make sense together. The messages name the variables, never
    the password's value."""
    smtp_set = [
        env_name(name)
        for name in ("smtp_host", "smtp_port", "smtp_user", "smtp_password")
        if getattr(settings, name) not in ("", None)
    ]
    if settings.mail_backend != "smtp":
        if smtp_set:
            raise SettingsError(
                f"{', '.join(smtp_set)}: set, but HAVEN_MAIL_BACKEND is {settings.mail_backend}, so "
                "no email would go to the relay; set HAVEN_MAIL_BACKEND=smtp (or unset them)."
            )
        return
    if not settings.smtp_host:
        raise SettingsError(
            "HAVEN_SMTP_HOST: HAVEN_MAIL_BACKEND=smtp needs the mail relay's host name "
            "(HAVEN_SMTP_HOST=smtp.example.ca)."
        )
    if settings.smtp_user and not settings.smtp_password:
        raise SettingsError("HAVEN_SMTP_PASSWORD: HAVEN_SMTP_USER is set without its password.")
    if settings.smtp_password and not settings.smtp_user:
        raise SettingsError("HAVEN_SMTP_USER: HAVEN_SMTP_PASSWORD is set without the user name it goes with.")
    if settings.smtp_user and settings.smtp_security == "none":
        raise SettingsError(
            "HAVEN_SMTP_SECURITY: with none, the password of HAVEN_SMTP_USER would cross the network "
            "unencrypted; use starttls or tls."
        )
    if settings.mail_from.endswith(".invalid"):
        raise SettingsError(
            "HAVEN_MAIL_FROM: with HAVEN_MAIL_BACKEND=smtp, set the address Haven's emails come from; "
            f"mail relays refuse {settings.mail_from}."
        )


def _stored_key(var_dir: Path, name: str, make: str, check: Callable[[str], str], what: str) -> str:
    """A key kept in var/, made once; a damaged file stops start-up rather than being replaced,
    since replacing it would silently sign everyone out (or make stored data unreadable)."""
    path = var_dir / name
    if not path.exists():
        try:
            var_dir.mkdir(parents=True, exist_ok=True)
            # Written aside, then linked into place: a reader never sees a half-written key, and
            # when two processes race, the first link wins and both read the same key.
            draft = var_dir / f".{name}.{os.getpid()}"
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(make + "\n")
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        except OSError as error:
            raise SettingsError(f"HAVEN_VAR_DIR: cannot create {path}: {error.strerror}.") from None
    try:
        key = path.read_text().strip()
    except OSError as error:
        raise SettingsError(f"HAVEN_VAR_DIR: cannot read {path}: {error.strerror}.") from None
    try:
        return check(key)
    except ValueError as error:
        raise SettingsError(f"{path} holds a {what} that {error}; restore it from your backup.") from None


def _stored_admin_token(var_dir: Path) -> str:
    return _stored_key(var_dir, ADMIN_TOKEN_FILE, secrets.token_urlsafe(32), _parse_secret, "token")


def _stored_secret_key(var_dir: Path) -> str:
    return _stored_key(var_dir, SECRET_KEY_FILE, secrets.token_urlsafe(48), _parse_secret, "secret key")


def _stored_data_key(var_dir: Path) -> str:
    return _stored_key(
        var_dir,
        DATA_KEY_FILE,
        base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        _parse_data_key,
        "data key",
    )
