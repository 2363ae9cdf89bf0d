"""Learning from brokers: their accept/reject decisions are labelled pairs.

``report`` gives the precision of suggestions (accepted ÷ reviewed) per station and per 技术领域;
``refit`` re-fits the ranking weights and cut-off on those labels, evaluates new and current
weights on needs held out of the fit, and only replaces the current weights when the new ones do
at least as well there. The replaced file is kept beside the new one.
"""

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flask import current_app

from matching.ranking import fit

from ..extensions import db
from ..infra import index_log, match_engine
from ..models import Match, MatchEvent, MatchStatus, Need

ACCEPTED_EVENT = "accept"


def labels() -> list[tuple[Match, int]]:
    """(match, 1 accepted / 0 rejected) for every match a broker has decided."""
    accepted = db.select(MatchEvent.match_id).where(MatchEvent.action == ACCEPTED_EVENT)
    rows = db.session.scalars(
        db.select(Match).where(db.or_(Match.id.in_(accepted), Match.status == MatchStatus.rejected.value))
    ).all()
    accepted_ids = set(db.session.scalars(accepted))
    return [(m, 1 if m.id in accepted_ids else 0) for m in rows]


@dataclass
class PrecisionRow:
    group: str
    suggested: int
    reviewed: int
    accepted: int

    @property
    def precision(self) -> float | None:
        return self.accepted / self.reviewed if self.reviewed else None


def report() -> dict[str, list[PrecisionRow]]:
    decided = {m.id: y for m, y in labels()}
    by_station: dict[str, PrecisionRow] = {}
    by_field: dict[str, PrecisionRow] = {}
    for m in db.session.scalars(db.select(Match)).all():
        for table, key in ((by_station, m.station.name if m.station else "（未分配）"), (by_field, m.need.field)):
            row = table.setdefault(key, PrecisionRow(key, 0, 0, 0))
            row.suggested += 1
            if m.id in decided:
                row.reviewed += 1
                row.accepted += decided[m.id]
    total = PrecisionRow(
        "合计",
        sum(r.suggested for r in by_station.values()),
        sum(r.reviewed for r in by_station.values()),
        sum(r.accepted for r in by_station.values()),
    )
    key = lambda r: (-r.suggested, r.group)  # noqa: E731
    return {
        "station": sorted(by_station.values(), key=key),
        "field": sorted(by_field.values(), key=key),
        "total": [total],
    }


def _auc(scores: np.ndarray, y: np.ndarray) -> float:
    pos, neg = scores[y == 1], scores[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def _logloss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


@dataclass
class RefitResult:
    labels: int
    train_needs: int
    test_needs: int
    current: dict
    candidate: dict
    replaced: bool
    path: str
    message: str


def refit(holdout: float = 0.3, seed: int = 5, write: bool = True) -> RefitResult:
    """New weights go to the weights file and, through the change log, to every matching service
    (the caller commits)."""
    backend = match_engine.backend()
    if backend is None:
        return RefitResult(0, 0, 0, {}, {}, False, "", "智能匹配未启用")
    labelled = labels()
    if len(labelled) < current_app.config["FEEDBACK_MIN_LABELS"]:
        return RefitResult(
            len(labelled),
            0,
            0,
            {},
            {},
            False,
            "",
            f"只有 {len(labelled)} 条经纪人判断，至少需要 {current_app.config['FEEDBACK_MIN_LABELS']} 条",
        )
    by_need: dict[int, list[tuple[int, int]]] = {}
    for m, y in labelled:
        by_need.setdefault(m.need_id, []).append((m.achievement_id, y))
    queries = []
    for need_id, pairs in sorted(by_need.items()):
        need = db.session.get(Need, need_id)
        ids = [a for a, _ in pairs]
        try:
            feats = backend.pair_features(match_engine.doc_from(need), "achievement", ids)
        except match_engine.Unavailable as e:
            return RefitResult(len(labelled), 0, 0, {}, {}, False, "", f"智能匹配暂不可用：{e}")
        if len(feats) != len(ids):
            continue
        grades = np.array([2.0 * y for _, y in pairs])
        queries.append((feats, grades, np.ones(len(ids), dtype=bool)))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(queries))
    n_test = max(1, int(round(holdout * len(queries))))
    test, train = [queries[i] for i in order[:n_test]], [queries[i] for i in order[n_test:]]
    current = index_log.current_weights(current_app.config["MATCH_WEIGHTS"])
    # brokers label only the few suggestions each need got: rank every accepted pair above every
    # rejected one across the training needs (one pooled query), then calibrate
    pooled = tuple(np.concatenate([q[k] for q in train]) for k in range(3))
    if len(set(pooled[1].tolist())) < 2:
        return RefitResult(
            len(labelled),
            len(train),
            len(test),
            {},
            {},
            False,
            "",
            "训练集中只有一种判断（全部采纳或全部不采纳），无法拟合",
        )
    candidate = fit([pooled], current)
    xs = np.concatenate([q[0] for q in test])
    ys = np.concatenate([q[1] for q in test]) > 0
    cur = {"auc": _auc(current.scores(xs), ys), "logloss": _logloss(current.scores(xs), ys)}
    new = {"auc": _auc(candidate.scores(xs), ys), "logloss": _logloss(candidate.scores(xs), ys)}
    # the cut-off: the threshold with the best F1 on the training labels
    xt = np.concatenate([q[0] for q in train])
    yt = np.concatenate([q[1] for q in train]) > 0
    pt = candidate.scores(xt)
    best = (current.cutoff, -1.0)
    for t in np.unique(np.round(pt, 3)):
        pred = pt >= t
        tp = (pred & yt).sum()
        f1 = 2 * tp / (pred.sum() + yt.sum()) if tp else 0.0
        if f1 > best[1]:
            best = (float(t), f1)
    candidate.cutoff = round(best[0], 3)
    better = (np.isnan(cur["auc"]) or new["auc"] >= cur["auc"] - 1e-9) and new["logloss"] <= cur["logloss"] + 1e-9
    path = Path(current_app.config["MATCH_WEIGHTS"])
    if better and write:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            shutil.copy(path, path.with_name(f"weights.{time.strftime('%Y%m%d-%H%M%S')}.json"))
        candidate.meta = {
            "fitted_on": f"broker decisions ({len(labelled)} labels, {len(train)} needs)",
            "heldout": {"needs": len(test), "current": cur, "candidate": new},
            "date": time.strftime("%Y-%m-%d"),
        }
        candidate.save(path)
        index_log.append_weights(candidate)
    if not better:
        msg = "新权重在留出集上不如当前权重，保留当前权重"
    elif write:
        msg = "新权重在留出集上不劣于当前权重，已启用"
    else:
        msg = "新权重在留出集上不劣于当前权重（试算，未写入）"
    return RefitResult(len(labelled), len(train), len(test), cur, new, bool(better and write), str(path), msg)
