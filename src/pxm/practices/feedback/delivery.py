"""Message senders (outbox, SMTP, pluggable SMS) and the text of invitation messages.

Every message is first a ``message_outbox`` row with a unique ``delivery_key`` and ``message_id``. A sender
either only records it (the ``outbox`` sender of the demo: the row *is* the message) or hands it to the
outside world (SMTP, an SMS gateway). ``was_sent(message_id)`` lets the delivery job ask the outside world,
after a crash, whether a message already left: ``True``/``False`` when the sender can tell, ``None`` when it
cannot (plain SMTP) - then the message is marked ``uncertain`` and never sent twice.
"""

from __future__ import annotations

import importlib
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

from pxm.practices.feedback.definition import text
from pxm.practices.feedback.models import Invitation, MessageOutbox


class DeliveryFailed(Exception):
    """The sender refused or could not reach its server; the job retries later."""


class Sender(Protocol):
    name: str

    def send(self, message: MessageOutbox) -> None: ...

    def was_sent(self, message_id: str) -> bool | None: ...


class OutboxSender:
    """Records only: the outbox page shows what would have been sent. Safe to repeat after a crash."""

    name = "outbox"

    def send(self, message: MessageOutbox) -> None:
        return None

    def was_sent(self, message_id: str) -> bool | None:
        return False  # nothing left the database, so a rolled-back attempt sent nothing


class SmtpSender:
    name = "smtp"

    def __init__(self, host: str, port: int, *, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 20.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout

    def send(self, message: MessageOutbox) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail["Message-ID"] = message.message_id
        mail["Date"] = formatdate(localtime=False)
        mail["Content-Language"] = message.language
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None

    def was_sent(self, message_id: str) -> bool | None:
        return None  # SMTP cannot be asked; a crash mid-send leaves the message 'uncertain'


_senders: dict[str, Sender] | None = None


def senders_from_settings(settings: Any) -> dict[str, Sender]:
    email: Sender = OutboxSender()
    if settings.email_sender == "smtp":
        email = SmtpSender(settings.smtp_host, settings.smtp_port, sender=settings.smtp_from,
                           username=settings.smtp_username, password=settings.smtp_password,
                           starttls=settings.smtp_starttls)
    sms: Sender = OutboxSender()
    if settings.sms_sender and settings.sms_sender != "outbox":
        module, _, factory = settings.sms_sender.partition(":")
        sms = getattr(importlib.import_module(module), factory or "make_sender")(settings)
    return {"email": email, "sms": sms}


def configure_senders(senders: dict[str, Sender] | None) -> None:
    """Install senders (the app and worker do this from Settings; tests install fakes). None resets."""
    global _senders
    _senders = senders


def sender_for(channel: str) -> Sender:
    global _senders
    if _senders is None:
        from pxm.platform.config import get_settings

        _senders = senders_from_settings(get_settings())
    if channel not in _senders:
        raise DeliveryFailed(f"no sender for channel {channel!r}")
    return _senders[channel]


def public_base_url() -> str:
    from pxm.platform.config import get_settings

    return get_settings().public_base_url.rstrip("/")


_SUBJECT = {
    "en": ("{title}", "Reminder: {title}"),
    "es": ("{title}", "Recordatorio: {title}"),
}
_EMAIL = {
    "en": ("Hello,\n\nThank you for choosing us for your care. Would you tell us how it went? {description}\n\n"
           "Answer here: {link}\n\nThe link works once and until {expires}. You can stop and come back later; "
           "your answers are saved.\nYou receive this because you agreed to hear from us about surveys."),
    "es": ("Hola:\n\nGracias por elegirnos para su atención. ¿Nos cuenta cómo le fue? {description}\n\n"
           "Responda aquí: {link}\n\nEl enlace funciona una sola vez y hasta el {expires}. Puede detenerse y "
           "volver más tarde; sus respuestas se guardan.\nRecibe este mensaje porque aceptó recibir encuestas."),
}
_SMS = {
    "en": "{title}: tell us how we did (1-2 min) {link} Reply STOP to opt out.",
    "es": "{title}: cuéntenos cómo lo hicimos (1-2 min) {link} Responda STOP para no recibir más.",
}


def compose(invitation: Invitation, definition: dict[str, Any], token: str, step: int) -> tuple[str | None, str]:
    """Subject (email only) and body of an invitation (step 0) or reminder (step >= 1)."""
    lang = invitation.language if invitation.language in _EMAIL else "en"
    link = f"{public_base_url()}/s/{token}"
    title = text(definition.get("title"), lang)
    values = {"title": title, "link": link, "description": text(definition.get("description", ""), lang),
              "expires": invitation.expires_at.date().isoformat()}
    if invitation.channel == "sms":
        return None, _SMS[lang].format(**values)
    subject = _SUBJECT[lang][1 if step else 0].format(**values)
    return subject, _EMAIL[lang].format(**values)
