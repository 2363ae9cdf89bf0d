"""Filters and globals for the Jinja templates."""

import re

from flask import request, url_for
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, select

from .extensions import db
from .models import MatchStatus, Notification
from .validation import rules


def register_template_helpers(app):
    app.jinja_env.filters["amount"] = rules.format_amount
    app.jinja_env.filters["region"] = rules.region_name
    app.jinja_env.filters["dt"] = lambda d: d.strftime("%Y-%m-%d %H:%M") if d else ""
    app.jinja_env.filters["d"] = lambda d: d.strftime("%Y-%m-%d") if d else ""
    app.jinja_env.filters["highlight"] = highlight
    app.jinja_env.globals["price_range"] = price_range
    app.jinja_env.globals["page_url"] = page_url
    app.jinja_env.globals["region_groups"] = rules.region_groups
    app.jinja_env.filters["match_status"] = lambda s: MatchStatus(s).label if s else ""

    @app.context_processor
    def globals_():
        unread = todo_count = 0
        if current_user.is_authenticated:
            from .services import todo

            unread = db.session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
            )
            todo_count = todo.count(current_user)
        return {"unread_count": unread, "todo_count": todo_count}


def price_range(low, high) -> str:
    if low is None and high is None:
        return "面议"
    if low is not None and high is not None:
        return rules.format_amount(low) if low == high else f"{rules.format_amount(low)} – {rules.format_amount(high)}"
    return f"≥ {rules.format_amount(low)}" if low is not None else f"≤ {rules.format_amount(high)}"


def highlight(text: str, terms) -> Markup:
    """Escape ``text`` and wrap each occurrence of the given terms (longest first) in <mark>."""
    escaped = str(escape(text or ""))
    terms = sorted({str(escape(t)) for t in terms or [] if t}, key=len, reverse=True)
    if not terms:
        return Markup(escaped)
    pattern = re.compile("|".join(map(re.escape, terms)))
    return Markup(pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped))


def page_url(page: int) -> str:
    args = request.args.to_dict()
    args["page"] = page
    return url_for(request.endpoint, **{**(request.view_args or {}), **args})
