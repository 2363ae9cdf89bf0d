"""The WSGI entry for gunicorn (the production web tier):

    MATCHING_SERVICE_URL=http://127.0.0.1:5055 gunicorn -w 4 -b 0.0.0.0:8000 'market.wsgi:app'

Configuration comes from the environment (market.config); workers keep nothing that is the only
copy of anything: the database, the change log and the matching service hold the state."""

from . import create_app

app = create_app()
