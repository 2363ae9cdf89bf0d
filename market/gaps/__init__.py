from flask import Blueprint

bp = Blueprint("gaps", __name__)

from . import routes  # noqa: E402,F401
