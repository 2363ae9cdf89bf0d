"""The `market` commands, one module per area, added to `app.cli` by the app factory."""

from flask import Flask

from . import events, feedback, index, jobs, serve, setup, stats, users, worker

COMMANDS = (
    setup.init_db_command,
    setup.seed_demo,
    setup.setup,
    index.index,
    serve.serve,
    jobs.expire,
    jobs.suggest,
    jobs.remind,
    jobs.remind_requests,
    worker.worker,
    worker.jobs,
    events.events,
    feedback.feedback,
    stats.stats,
    users.create_admin,
)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
