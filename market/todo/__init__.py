from flask import Blueprint

bp = Blueprint("todo", __name__)

from . import routes  # noqa: E402,F401
