"""Helpers shared by the views: role checks and turning a submitted form into service input."""
from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required

from .services.schema import Field


def roles_required(*roles):
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def form_data(fields: tuple[Field, ...], form) -> dict:
    """The submitted values keyed by field name; multi-valued fields as lists."""
    out = {}
    for f in fields:
        if f.type == "choices":
            out[f.name] = form.getlist(f.name)
        elif f.type == "bool":
            out[f.name] = form.get(f.name) in ("1", "on", "true")
        elif f.name in form:
            out[f.name] = form.get(f.name)
    return out


def page_arg() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 10000))
    except ValueError:
        return 1


def get_or_404(model, ident, visible=None):
    """The row, or 404 when it does not exist or ``visible(current_user, row)`` says no (a row
    one may not see is answered as if it did not exist)."""
    from .extensions import db
    obj = db.session.get(model, ident)
    if obj is None or (visible is not None and not visible(current_user, obj)):
        abort(404)
    return obj
