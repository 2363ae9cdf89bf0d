"""Helpers shared by the views: role checks and turning a submitted form into service input."""

from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required
from werkzeug.routing import IntegerConverter

from .validation.fields import Field


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` that never matches a number a database integer cannot hold (404, not an
    OverflowError)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        from .validation.rules import MAX_ID

        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max, signed=signed)


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


def semantic_search_limit(exempt_when=None):
    """A per-address budget for a model-backed search (the API's, the semantic browse)."""
    from flask import current_app

    from .extensions import limiter

    return limiter.limit(
        lambda: current_app.config["SEARCH_LIMIT"], exempt_when=exempt_when, error_message="检索过于频繁，请稍后再试"
    )


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
    return bounded_arg("page", 1, 1, 10000)


def bounded_arg(name: str, default: int, low: int, high: int) -> int:
    """An integer query argument clamped to [low, high]; the default when it is not ASCII digits."""
    from .validation.rules import is_ascii_int

    value = request.args.get(name, "")
    return max(low, min(int(value), high)) if is_ascii_int(value) else default


def get_or_404(model, ident, visible=None):
    """The row, or 404 when it does not exist or ``visible(current_user, row)`` says no (a row
    one may not see is answered as if it did not exist)."""
    from .extensions import db

    obj = db.session.get(model, ident)
    if obj is None or (visible is not None and not visible(current_user, obj)):
        abort(404)
    return obj
