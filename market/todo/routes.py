"""待办: every role's landing page after login."""

from flask import render_template
from flask_login import current_user, login_required

from ..services import todo
from . import bp


@bp.route("/")
@login_required
def index():
    return render_template("todo/index.html", sections=todo.sections(current_user))
