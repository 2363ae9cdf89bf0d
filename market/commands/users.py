"""`market create-admin`."""

import click
from flask.cli import with_appcontext

from ..extensions import db


@click.command("create-admin")
@click.argument("username")
@click.password_option()
@with_appcontext
def create_admin(username, password):
    """Create an administrator account."""
    from ..models import Role, User
    from ..services.accounts import check_password

    if msg := check_password(password, username):
        raise click.ClickException(msg)
    user = User(username=username, display_name=username, role=Role.admin.value)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"admin {username} created")
