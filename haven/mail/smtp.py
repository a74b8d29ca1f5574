"""Delivery through a mail relay over SMTP (``HAVEN_MAIL_BACKEND=smtp``): a connection per message,
encrypted as ``HAVEN_SMTP_SECURITY`` says and signed in when ``HAVEN_SMTP_USER`` is set, and the
relay's reply turned into what the outbox does next (sent, tried again later, or refused for good)."""

from __future__ import annotations

import ssl
from typing import Final
from urllib.parse import urlsplit

import aiosmtplib

from haven.mail.models import OutboxMessage
from haven.mail.outbox import Deferred, Refused, Unavailable, rfc5322, without_addresses
from haven.settings import Settings

DEFAULT_PORTS: Final = {"none": 25, "starttls": 587, "tls": 465}
# Seconds each step may take (connecting, the TLS handshake, each command): a relay that stops
# answering holds one message that long, then the sweep gives up until the next one.
TIMEOUT: Final = 15.0
SERVICE_CLOSING: Final = 421  # the relay is going away: about the relay, not the message


class SmtpMailer:
    """Sends each message to the relay at ``host``. ``tls_context`` replaces the system's trusted
    authorities (a test's own); without it the relay's certificate and name are checked against
    them."""

    def __init__(
        self,
        host: str,
        sender: str,
        *,
        port: int | None = None,
        security: str = "starttls",
        user: str = "",
        password: str = "",
        local_hostname: str | None = None,
        timeout: float = TIMEOUT,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in DEFAULT_PORTS:
            raise ValueError(f"security must be one of {', '.join(DEFAULT_PORTS)}")
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.security = security
        self.sender = sender
        self.user = user
        self._password = password  # kept out of every message and log line
        self.local_hostname = local_hostname
        self.timeout = timeout
        self.tls_context = tls_context

    @classmethod
    def from_settings(cls, settings: Settings, *, tls_context: ssl.SSLContext | None = None) -> SmtpMailer:
        # The portal's public name greets the relay (EHLO) when there is one; otherwise the
        # machine's, as the client library finds it.
        public_host = urlsplit(settings.public_url).hostname if settings.public_url else None
        return cls(
            settings.smtp_host,
            settings.mail_from,
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password,
            local_hostname=public_host,
            tls_context=tls_context,
        )

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",  # required, never opportunistic: no quiet downgrade
            timeout=self.timeout,
            tls_context=self.tls_context,
            local_hostname=self.local_hostname,
            username=self.user or None,
            password=self._password or None,
        )

    async def send(self, message: OutboxMessage) -> None:
        client = self._client()
        try:
            await client.connect()  # with STARTTLS and AUTH: whatever fails here is about the relay
        except (aiosmtplib.SMTPException, OSError) as error:
            raise Unavailable(f"{self.host}:{self.port}: {_reply(error)}") from None
        try:
            email = rfc5322(message, self.sender, eight_bit=client.supports_extension("8bitmime"))
            await client.send_message(email, sender=self.sender, recipients=[message.recipient])
        except aiosmtplib.SMTPRecipientsRefused as error:
            first = error.recipients[0]
            raise _classified(first.code, f"recipient refused: {_reply(first)}") from None
        except aiosmtplib.SMTPSenderRefused as error:
            # Every message has the same sender: a refusal says the settings (HAVEN_MAIL_FROM, or
            # what HAVEN_SMTP_USER may send as) are wrong, not this message. Nothing is refused
            # for good meanwhile; the messages wait until they are mended.
            raise Unavailable(f"sender (HAVEN_MAIL_FROM) refused: {_reply(error)}") from None
        except aiosmtplib.SMTPDataError as error:
            raise _classified(error.code, f"message refused: {_reply(error)}") from None
        except aiosmtplib.SMTPNotSupported as error:
            # Raised before anything is sent for an address this relay cannot carry (non-ASCII,
            # without SMTPUTF8): another attempt at the same relay would fare no better.
            raise Refused(f"address not supported by the relay: {_reply(error)}") from None
        except ValueError as error:
            raise Refused(f"address that cannot be sent: {_reply(error)}") from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise Unavailable(f"{self.host}:{self.port}: {_reply(error)}") from None
        finally:
            await _close(client)


def _classified(code: int, text: str) -> Exception:
    """A reply to this message: 5xx refuses it for good, 4xx defers it (421 is about the relay)."""
    if code == SERVICE_CLOSING:
        return Unavailable(text)
    if 500 <= code < 600:
        return Refused(text)
    return Deferred(text)


def _reply(error: BaseException) -> str:
    if isinstance(error, aiosmtplib.SMTPResponseException):
        text = f"{error.code} {error.message}"
    else:
        text = str(error) or type(error).__name__
    return without_addresses(text)


async def _close(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
