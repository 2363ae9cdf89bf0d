"""供需缺口 at /matching/gaps: needs nobody can meet yet, and — for staff — 成果 nobody has asked for."""

from flask import abort, render_template
from flask_login import current_user

from ..infra import match_engine
from . import bp


@bp.route("/gaps")
def index():
    if not match_engine.enabled():
        abort(404, "智能匹配未启用")
    found = match_engine.gaps(current_user)
    return render_template("gaps/index.html", matching_down=match_engine.unavailable(), **found)
