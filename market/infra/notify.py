"""Telling people: an in-app notification always; an e-mail when SMTP is configured (else logged).

E-mails are queued on the session and sent only after the transaction commits, so a rolled-back
change never mails anyone.
"""

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Notification, User, utcnow

log = logging.getLogger(__name__)


def notify(user: User | None, title: str, body: str = "", link: str | None = None, key: str | None = None) -> bool:
    """One notice to one user; with ``key`` the same notice is never sent twice."""
    if user is None:
        return False
    if key and db.session.scalar(select(Notification.id).where(Notification.key == key)):
        return False
    db.session.add(Notification(user_id=user.id, title=title[:200], body=body, link=link, key=key))
    if user.email and user.email_notices is not False:
        mail(user.email, title, body, link)
    return True


def mail(to: str, title: str, body: str = "", link: str | None = None) -> None:
    """An e-mail to an address (a visitor without an account), sent after commit like the others."""
    db.session.info.setdefault("outbox", []).append((to, title, body, link))


def mark_read(user: User, *links: str) -> int:
    """Opening the item a notice points to reads it."""
    rows = db.session.scalars(
        select(Notification).where(
            Notification.user_id == user.id, Notification.link.in_(links), Notification.read_at.is_(None)
        )
    ).all()
    for n in rows:
        n.read_at = utcnow()
    return len(rows)


def register_read_on_open(app) -> None:
    """A signed-in user's GET of a page reads the notices that link to it (path, or path and query)."""
    from flask import request
    from flask_login import current_user

    @app.before_request
    def read_on_open():
        if request.method != "GET" or request.blueprint in (None, "api") or not current_user.is_authenticated:
            return None
        if mark_read(current_user, request.path, request.full_path.rstrip("?")):
            db.session.commit()
        return None


def send_mail(to: str, subject: str, body: str, link: str | None) -> None:
    cfg = current_app.config
    text = body + (f"\n\n{cfg.get('PUBLIC_URL', 'http://127.0.0.1:5000')}{link}" if link else "")
    if not cfg.get("MAIL_SERVER"):
        log.info("mail (no SMTP configured) to=%s subject=%s\n%s", to, subject, text)
        return
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = cfg.get("MAIL_FROM", "noreply@zztm.local"), to, subject
    msg.set_content(text)
    with smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg.get("MAIL_PORT", 25)), timeout=10) as smtp:
        if cfg.get("MAIL_USERNAME"):
            smtp.starttls()
            smtp.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD", ""))
        smtp.send_message(msg)


@event.listens_for(Session, "after_commit")
def _send_outbox(session):
    outbox = session.info.pop("outbox", None)
    if not outbox or not has_app_context():
        return
    for to, subject, body, link in outbox:
        try:
            send_mail(to, subject, body, link)
        except (OSError, smtplib.SMTPException):
            log.exception("could not send mail to %s", to)


@event.listens_for(Session, "after_rollback")
def _drop_outbox(session):
    session.info.pop("outbox", None)
