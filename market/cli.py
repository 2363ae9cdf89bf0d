"""The `market` console script: Flask's own commands and those of market/commands (also `flask --app market …`)."""

from flask.cli import FlaskGroup


def main():
    from . import create_app

    cli = FlaskGroup(create_app=create_app, add_default_commands=True)
    cli(prog_name="market")
