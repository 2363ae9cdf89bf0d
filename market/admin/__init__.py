from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import bulk_import, routes  # noqa: E402,F401
