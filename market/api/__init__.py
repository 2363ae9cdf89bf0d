from flask import Blueprint

bp = Blueprint("api", __name__)

from . import contracts, openapi, routes  # noqa: E402,F401
