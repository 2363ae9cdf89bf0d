"""智能匹配: the gaps (needs nobody can meet yet, 成果 nobody has asked for)."""
from flask import abort, render_template
from flask_login import current_user

from ..infra import match_engine
from . import bp


@bp.route("/gaps")
def gaps():
    if not match_engine.enabled():
        abort(404, "智能匹配未启用")
    return render_template("matches/gaps.html", **match_engine.gaps(current_user))
