"""`python -m tests.market.fake_service DATABASE_URL INDEX_DIR PORT [SLOW]`: the matching service
with the deterministic fake embedder, as its own process (for kill -9 tests). ``SLOW``: seconds
each text takes to encode, so that a test can kill the process in the middle of applying."""

import logging
import sys
import time

from matching.changelog import ChangeLog
from matching.engine import MatchEngine
from matching.host import EngineHost
from matching.service import serve
from tests.matching.fakes import FakeEmbedder


class SlowEmbedder(FakeEmbedder):
    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def encode(self, texts, prompt="query"):
        time.sleep(self.seconds * sum("刀圈" in t for t in texts))  # the test's listings, not the background
        return super().encode(texts, prompt)


def main(argv: list[str]) -> None:
    url, index_dir, port = argv[0], argv[1], int(argv[2])
    slow = float(argv[3]) if len(argv) > 3 else 0.0
    logging.basicConfig(level=logging.INFO)
    embedder = SlowEmbedder(slow) if slow else FakeEmbedder()
    host = EngineHost(MatchEngine(embedder, index_dir), ChangeLog(url), save_every=0.0)
    serve(host, port=port)


if __name__ == "__main__":
    main(sys.argv[1:])
