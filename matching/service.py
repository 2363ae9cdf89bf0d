"""`matching serve`: one process that holds the model and the indexes, applies the change log, and
answers match / search / near-duplicate / embed calls as JSON over HTTP on loopback.

Web workers, job workers and commands talk to it through ``market.infra.match_client``; none of them
loads the model. Answers carry ``applied`` (the last change-log seq the indexes include); a caller
that has just written a change passes ``min_seq`` and the answer waits for it (up to 2 s).

    GET  /health                      state (starting/ready/failed), applied, head, sizes
    POST /match      {doc, k, min_score, suggest, min_seq}
    POST /search     {kind, text, k, where, min_seq}
    POST /near-duplicates {docs, vectors?, min_seq}
    POST /embed      {texts, prompt}          → {vectors}
    POST /pair-features {doc, target, ids}    → {rows}
    GET  /hashes?kind=need                    → {hashes: {id: content hash}}
    GET  /gaps
    POST /wake                                 apply the log now (sent after a commit)
"""

import base64
import json
import logging
import signal
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from .changelog import ChangeLog
from .docs import Doc
from .embedder import URGENT_TEXTS, urgency
from .host import EngineHost, NotReady
from .sharedcache import SharedCache, SharedCacheEmbedder

log = logging.getLogger(__name__)
READ_YOUR_WRITES = 2.0  # seconds an answer waits for the caller's own change
MAX_BODY = 64 * 1024 * 1024


@dataclass
class Settings:
    database_url: str
    index_dir: Path
    model_dir: Path
    embed_cache: Path | None = None
    weights: Path | None = None
    hnsw_threshold: int = 50_000
    save_every: float = 60.0
    precision: str = "auto"
    shared_cache: bool | None = None  # embeddings shared through the database; default: on PostgreSQL
    vector_url: str | None = None  # PostgreSQL + pgvector for the vectors (several hosts); None: FAISS files


def make_host(s: Settings, engine=None) -> EngineHost:
    """An EngineHost over the converted model, the index folder and the database's change log
    (``engine``: a SQLAlchemy engine to share, else one made from ``s.database_url``)."""
    from .embedder import Embedder
    from .engine import MatchEngine
    from .index import IndexParams
    from .ranking import Weights

    changes = ChangeLog(engine or s.database_url)
    embedder = Embedder(Path(s.model_dir), cache_path=s.embed_cache, precision=s.precision)
    shared = s.shared_cache if s.shared_cache is not None else changes.engine.dialect.name == "postgresql"
    if shared:  # several hosts: a text one host embedded is never embedded by another
        embedder = SharedCacheEmbedder(embedder, SharedCache(changes.engine, embedder.model_id, embedder.dim))
    eng = MatchEngine(
        embedder,
        Path(s.index_dir),
        Weights.load(s.weights),
        IndexParams(hnsw_threshold=s.hnsw_threshold),
        vector_url=s.vector_url,
    )
    return EngineHost(eng, changes, save_every=s.save_every)


# ---- wire format ----------------------------------------------------------------------------


def pack(a: np.ndarray) -> dict:
    a = np.ascontiguousarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def unpack(d: dict | None) -> np.ndarray | None:
    if d is None:
        return None
    return np.frombuffer(base64.b64decode(d["b64"]), dtype=np.float32).reshape(d["shape"]).copy()


def match_out(m) -> dict:
    return {**m.as_dict(), "evidence": m.evidence}


class BadRequest(Exception):
    pass


def _need(body: dict, key: str, kind=None):
    if key not in body or (kind is not None and not isinstance(body[key], kind)):
        raise BadRequest(f"'{key}' is required" + (f" ({kind.__name__})" if kind else ""))
    return body[key]


def _doc(d) -> Doc:
    if not isinstance(d, dict):
        raise BadRequest("'doc' must be an object")
    try:
        return Doc.from_dict(d)
    except TypeError as e:
        raise BadRequest(f"bad doc: {e}") from None


# ---- the HTTP server ------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    host: EngineHost  # set on the subclass made by serve()
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: errors are logged by _reply
        pass

    def _reply(self, code: int, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict:
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise BadRequest("request too large")
        try:
            data = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            raise BadRequest("body is not JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("body must be a JSON object")
        return data

    def do_GET(self):
        url = urlparse(self.path)
        self._dispatch(url.path, {k: v[-1] for k, v in parse_qs(url.query).items()})

    def do_POST(self):
        try:
            body = self._body()
        except BadRequest as e:
            return self._reply(400, {"error": "bad_request", "message": str(e)})
        self._dispatch(urlparse(self.path).path, body)

    def _dispatch(self, path: str, body: dict) -> None:
        route = ROUTES.get(path)
        if route is None:
            return self._reply(404, {"error": "not_found", "message": path})
        host = self.host
        try:
            fresh = host.wait_for(body.get("min_seq"), READ_YOUR_WRITES) if body.get("min_seq") else True
            out = route(host, body)
            out.setdefault("applied", host.applied)
            out["fresh"] = fresh
            self._reply(200, out)
        except BadRequest as e:
            self._reply(400, {"error": "bad_request", "message": str(e)})
        except NotReady as e:
            self._reply(503, {"error": "not_ready", "message": str(e), "state": host.state})
        except Exception as e:  # one bad call must not take the service down
            log.exception("%s failed", path)
            self._reply(500, {"error": "internal", "message": f"{type(e).__name__}: {e}"})


def _match(host: EngineHost, b: dict) -> dict:
    found = host.match(
        _doc(_need(b, "doc")), k=int(b.get("k", 10)), min_score=b.get("min_score"), suggest=bool(b.get("suggest"))
    )
    return {"matches": [match_out(m) for m in found]}


def _search(host: EngineHost, b: dict) -> dict:
    kind = _need(b, "kind", str)
    if kind not in ("achievement", "need"):
        raise BadRequest("kind must be achievement or need")
    found = host.search(kind, _need(b, "text", str), k=int(b.get("k", 20)), where=b.get("where"))
    return {"matches": [match_out(m) for m in found]}


def _near(host: EngineHost, b: dict) -> dict:
    docs = [_doc(d) for d in _need(b, "docs", list)]
    hits = host.near_duplicates(docs, unpack(b.get("vectors")))
    return {"hits": [[list(h) for h in found] for found in hits]}


def _embed(host: EngineHost, b: dict) -> dict:
    texts = _need(b, "texts", list)
    if not all(isinstance(t, str) for t in texts):
        raise BadRequest("texts must be strings")
    with urgency(len(texts) <= URGENT_TEXTS):  # an import's batch is bulk: queries go in between its chunks
        return {"vectors": pack(host.embed(texts, prompt=b.get("prompt", "query")))}


def _pair_features(host: EngineHost, b: dict) -> dict:
    rows = host.pair_features(_doc(_need(b, "doc")), _need(b, "target", str), [int(i) for i in _need(b, "ids", list)])
    return {"rows": pack(rows)}


def _hashes(host: EngineHost, b: dict) -> dict:
    return {"hashes": {str(k): v for k, v in host.hashes(_need(b, "kind", str)).items()}}


def _wake(host: EngineHost, b: dict) -> dict:
    host.wake()
    return {}


ROUTES = {
    "/health": lambda host, b: host.status(),
    "/match": _match,
    "/search": _search,
    "/near-duplicates": _near,
    "/embed": _embed,
    "/pair-features": _pair_features,
    "/hashes": _hashes,
    "/gaps": lambda host, b: host.gaps(),
    "/wake": _wake,
}


def serve(host: EngineHost, bind: str = "127.0.0.1", port: int = 5055, stop: threading.Event | None = None) -> None:
    """Answer on ``bind:port`` at once (503 while loading), load the indexes, then apply the log
    until SIGTERM/SIGINT (or ``stop`` is set, when run on a thread); the state is saved on the way out."""
    handler = type("BoundHandler", (Handler,), {"host": host})
    server = ThreadingHTTPServer((bind, port), handler)
    server.daemon_threads = True
    if stop is None:
        stop = threading.Event()

        def _stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    web = threading.Thread(target=server.serve_forever, name="matching-http", daemon=True)
    web.start()
    log.info("matching service listening on http://%s:%d (loading the indexes)", bind, port)
    t0 = time.perf_counter()
    try:
        host.start()
    except Exception:
        log.exception("loading the indexes failed; answering 503 until restarted")
        stop.wait()
        server.shutdown()
        server.server_close()
        return
    log.info("matching service ready in %.1fs at seq %d", time.perf_counter() - t0, host.applied)
    try:
        host.run(stop)
    finally:
        server.shutdown()
        server.server_close()
