from flask import Blueprint

bp = Blueprint("hall", __name__)

from . import routes  # noqa: E402,F401
