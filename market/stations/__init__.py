from flask import Blueprint

bp = Blueprint("stations", __name__)

from . import routes  # noqa: E402,F401
