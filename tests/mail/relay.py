"""A real SMTP relay for the mail tests (aiosmtpd, in the test's own event loop, on 127.0.0.1 and a
port of its own), the replies a test makes it give, and TLS certificates made for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

USER = "haven-mailer"
PASSWORD = "correct horse relay staple"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    options: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """The relay's handler: what it accepted, and the replies it gives instead of "250 OK" to the
    next MAIL, RCPT or DATA commands (each used once, in order)."""

    received: list[Received] = field(default_factory=list)
    mail_replies: list[str] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    require_auth: bool = False
    rcpts: int = 0  # RCPT commands received (each is an attempt at a message)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if self.mail_replies:
            return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.rcpts += 1
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        content = envelope.original_content
        assert isinstance(content, bytes)
        parsed = message_from_bytes(content, policy=default)
        assert envelope.mail_from is not None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.mail_options, parsed)
        )
        return "250 2.0.0 OK: queued"


def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=good, handled=False)  # not handled: aiosmtpd answers 535 itself


@dataclass(frozen=True)
class Certificates:
    server: ssl.SSLContext  # the relay's certificate, for 127.0.0.1, signed by the test's own CA
    client: ssl.SSLContext  # trusts that CA only


def certificates(folder: Path) -> Certificates:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Haven test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("relay.test")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain, private = folder / "relay.pem", folder / "relay.key"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain, private)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return Certificates(server, client)


@asynccontextmanager
async def relay(
    inbox: Inbox,
    *,
    starttls: ssl.SSLContext | None = None,
    tls: ssl.SSLContext | None = None,
    auth: bool = False,
    sock: socket.socket | None = None,
) -> AsyncIterator[int]:
    """Serve ``inbox`` until the block ends; yields the port. ``starttls`` (the server's context)
    requires STARTTLS; ``tls`` speaks TLS from the first byte; ``auth`` requires USER/PASSWORD.
    ``sock``: a socket already bound (the port a test tried while nothing listened there)."""
    loop = asyncio.get_running_loop()
    sessions: list[SMTP] = []

    def session() -> SMTP:
        # AUTH goes only over TLS: aiosmtpd sees STARTTLS itself; with TLS from the start the
        # handler demands it (aiosmtpd cannot tell that connection is encrypted).
        smtp = SMTP(
            inbox,
            hostname="relay.test",
            loop=loop,
            tls_context=starttls,
            require_starttls=starttls is not None,
            authenticator=authenticate if auth else None,
            auth_required=auth and tls is None,
            auth_require_tls=tls is None,
        )
        sessions.append(smtp)
        return smtp

    inbox.require_auth = auth and tls is not None
    if sock is None:
        server = await loop.create_server(session, "127.0.0.1", 0, ssl=tls)
    else:
        server = await loop.create_server(session, sock=sock, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
        # Each session's task ends once its client has quit; wait for them, so none outlives the test.
        handlers = [smtp._handler_coroutine for smtp in sessions if smtp._handler_coroutine is not None]
        if handlers:
            _, pending = await asyncio.wait(handlers, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


@asynccontextmanager
async def silent_relay() -> AsyncIterator[int]:
    """A relay that takes the connection and never says a word (no greeting): a client waits for
    its timeout."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


def unused_port() -> socket.socket:
    """A socket bound to a port on 127.0.0.1 that does not listen: connecting to it is refused
    (a relay that is down) until ``relay(..., sock=it)`` serves there."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock
