"""The two ways the web app reaches a matching engine, with one interface:

- ``RemoteBackend``: the matching service (`matching serve`) over HTTP — production: web workers,
  job workers and commands never load the model; when the service is down or still loading every
  call raises ``Unavailable`` (the pages say so and fall back to keyword browse).
- ``LocalBackend``: an EngineHost in this process that follows the same change log, catching up
  before each call — the tests, and a deployment without a service (``MATCHING_SERVICE_URL`` unset).
"""

import contextlib
import json
import logging
import threading
import urllib.error
import urllib.request

import numpy as np

from matching.docs import Doc
from matching.engine import Match
from matching.host import EngineHost, NotReady
from matching.service import pack, unpack

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """The matching service cannot answer now (down, starting, overloaded)."""


def match_from(d: dict) -> Match:
    return Match(
        id=int(d["id"]),
        score=float(d["score"]),
        cosine=float(d["cosine"]),
        components=d.get("components") or {},
        features=d.get("features") or {},
        shared_terms=d.get("shared_terms") or [],
        indicators=d.get("indicators") or [],
        evidence=d.get("evidence", "ok"),
        reasons=d.get("reasons") or [],
    )


class RemoteBackend:
    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, path: str, body: dict | None = None, timeout: float | None = None) -> dict:
        data = json.dumps(body or {}, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(
            self.url + path, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            try:
                detail = json.loads(e.read())
            except ValueError:
                detail = {"message": str(e)}
            if e.code == 503:
                raise Unavailable("匹配服务正在加载索引，请稍后再试") from None
            raise Unavailable(f"匹配服务出错（{e.code}）：{detail.get('message', '')}") from None
        except (OSError, ValueError) as e:  # refused, reset, timed out, garbled
            log.warning("matching service at %s: %s: %s", self.url, type(e).__name__, e)
            raise Unavailable("匹配服务未运行或无响应") from None

    def match(self, doc: Doc, k: int = 10, min_score=None, suggest: bool = False) -> list[Match]:
        out = self._call("/match", {"doc": doc.as_dict(), "k": k, "min_score": min_score, "suggest": suggest})
        return [match_from(m) for m in out["matches"]]

    def search(self, kind: str, text: str, k: int = 20, where: dict | None = None, min_seq=None) -> list[Match]:
        out = self._call("/search", {"kind": kind, "text": text, "k": k, "where": where, "min_seq": min_seq})
        return [match_from(m) for m in out["matches"]]

    def near_duplicates(self, docs: list[Doc], vectors: np.ndarray | None = None) -> list[list[tuple]]:
        body = {"docs": [d.as_dict() for d in docs], "vectors": pack(vectors) if vectors is not None else None}
        return [[tuple(h) for h in found] for found in self._call("/near-duplicates", body)["hits"]]

    def encode(self, texts: list[str], prompt: str = "query") -> np.ndarray:
        return unpack(self._call("/embed", {"texts": list(texts), "prompt": prompt}, timeout=600)["vectors"])

    def pair_features(self, doc: Doc, target: str, ids: list[int]) -> np.ndarray:
        return unpack(self._call("/pair-features", {"doc": doc.as_dict(), "target": target, "ids": ids})["rows"])

    def hashes(self, kind: str) -> dict[int, str]:
        return {int(k): v for k, v in self._call("/hashes", {"kind": kind})["hashes"].items()}

    def gaps(self) -> dict:
        return self._call("/gaps", timeout=600)

    def status(self) -> dict:
        return self._call("/health", timeout=5)

    def wake(self) -> None:
        """Tell the service a change was committed (best effort, never blocks the caller long)."""

        def _send():
            with contextlib.suppress(Unavailable):
                self._call("/wake", timeout=0.5)

        threading.Thread(target=_send, daemon=True).start()

    def flush(self) -> None:
        """The service saves its own state."""


def remote_backend(app) -> RemoteBackend | None:
    """The app's client of the matching service (made once), or None without a service."""
    url = app.config.get("MATCHING_SERVICE_URL") if app.config.get("MATCHING_ENABLED") else None
    if not url:
        return None
    found = app.extensions.get("match_backend")
    if not isinstance(found, RemoteBackend) or found.url != url.rstrip("/"):
        found = app.extensions["match_backend"] = RemoteBackend(url, app.config["MATCHING_TIMEOUT"])
    return found


class LocalBackend:
    def __init__(self, host: EngineHost):
        self.host = host
        self._start_lock = threading.Lock()

    def _host(self) -> EngineHost:
        if self.host.state != "ready":
            with self._start_lock:
                if self.host.state != "ready":
                    self.host.start()
        self.host.catch_up()
        return self.host

    def _ask(self, fn):
        try:
            return fn(self._host())
        except NotReady as e:
            raise Unavailable(str(e)) from None

    def match(self, doc: Doc, k: int = 10, min_score=None, suggest: bool = False) -> list[Match]:
        return self._ask(lambda h: h.match(doc, k=k, min_score=min_score, suggest=suggest))

    def search(self, kind: str, text: str, k: int = 20, where: dict | None = None, min_seq=None) -> list[Match]:
        return self._ask(lambda h: h.search(kind, text, k=k, where=where))

    def near_duplicates(self, docs: list[Doc], vectors: np.ndarray | None = None) -> list[list[tuple]]:
        return self._ask(lambda h: h.near_duplicates(docs, vectors))

    def encode(self, texts: list[str], prompt: str = "query") -> np.ndarray:
        return self.host.embed(list(texts), prompt=prompt)

    def pair_features(self, doc: Doc, target: str, ids: list[int]) -> np.ndarray:
        return self._ask(lambda h: h.pair_features(doc, target, ids))

    def hashes(self, kind: str) -> dict[int, str]:
        return self._ask(lambda h: h.hashes(kind))

    def gaps(self) -> dict:
        return self._ask(lambda h: h.gaps())

    def status(self) -> dict:
        return self._ask(lambda h: h.status())

    def wake(self) -> None:
        """Nothing to wake: the next call catches up."""

    def flush(self) -> None:
        self._ask(lambda h: h.save())
