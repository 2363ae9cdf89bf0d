from flask import Blueprint

bp = Blueprint("contracts", __name__)

from . import routes  # noqa: E402,F401
