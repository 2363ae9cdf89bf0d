"""`python -m tests.ingest.run_ingest …`: the ingest command with the fake embedder, each encode call
slowed by $FAKE_ENCODE_DELAY seconds, so a test can kill it mid-import (real model: tests marked model)."""

import os
import sys
import time
from pathlib import Path

from market.extensions import db
from market.infra import match_engine as service
from matching.changelog import ChangeLog
from matching.engine import MatchEngine
from matching.host import EngineHost
from tests.matching.fakes import FakeEmbedder


class SlowFakeEmbedder(FakeEmbedder):
    delay = float(os.environ.get("FAKE_ENCODE_DELAY", "0"))

    def encode(self, texts, prompt="query"):
        if len(texts) > 1:
            time.sleep(self.delay)
        return super().encode(texts, prompt)


def fake_host(app):
    engine = MatchEngine(SlowFakeEmbedder(), Path(app.config["INDEX_DIR"]))
    return EngineHost(engine, ChangeLog(db.engine), save_every=0.0)


if __name__ == "__main__":
    if os.environ.get("FAKE_ENCODER", "1") == "1":
        service.build_host = fake_host
    from ingest.cli import main

    sys.argv[0] = "ingest"
    main()
