"""Progress of an import, phase by phase: rows done, rate and ETA on stderr, and the same numbers
as a dict for the job row (the admin page polls it)."""

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

PHASES = {"read": "读取", "validate": "校验", "embed": "编码", "store": "存储", "index": "索引"}


@dataclass
class Phase:
    name: str
    label: str
    done: int = 0
    total: int | None = None
    seconds: float = 0.0  # time spent in the phase (its own work, not waiting)
    started: float | None = None  # wall clock of its first row
    finished: float | None = None
    fraction_hint: float | None = None  # e.g. bytes read / file size while the row count is unknown

    def fraction(self) -> float | None:
        if self.total:
            return min(1.0, self.done / self.total)
        return self.fraction_hint

    def rate(self, now: float) -> float | None:
        end = self.finished or now
        if self.started is None or end - self.started < 0.2 or not self.done:
            return None
        return self.done / (end - self.started)

    def eta(self, now: float) -> float | None:
        frac, rate = self.fraction(), self.rate(now)
        if self.finished or frac is None or not rate:
            return None
        if self.total:
            return max(0.0, (self.total - self.done) / rate)
        elapsed = now - self.started
        return elapsed * (1 - frac) / frac if frac > 0 else None


class Progress:
    def __init__(self, stream=None, interval: float = 1.0, quiet: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.quiet = quiet
        self.phases = {name: Phase(name, label) for name, label in PHASES.items()}
        self.title = ""
        self.waiting = 0.0  # time the main loop spent waiting for the encoder
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._drawn = 0
        self.started = time.perf_counter()

    def set_total(self, total: int, phases=PHASES) -> None:
        for name in phases:
            self.phases[name].total = total

    def add(self, phase: str, rows: int = 0, seconds: float = 0.0) -> None:
        p = self.phases[phase]
        now = time.perf_counter()
        if p.started is None:
            p.started = now - seconds
        p.done += rows
        p.seconds += seconds
        if p.total is not None and p.done >= p.total:
            p.finished = now
        self.render()

    @contextmanager
    def timing(self, phase: str, rows: int = 0):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, rows, time.perf_counter() - t)

    def finish(self, phase: str) -> None:
        p = self.phases[phase]
        if p.started is not None and p.finished is None:
            p.finished = time.perf_counter()
            if p.total is None:
                p.total = p.done

    def snapshot(self) -> dict:
        now = time.perf_counter()
        out = {}
        for p in self.phases.values():
            if p.started is None:
                continue
            rate, eta = p.rate(now), p.eta(now)
            out[p.name] = {
                "label": p.label,
                "done": p.done,
                "total": p.total,
                "seconds": round(p.seconds, 3),
                "rate": round(rate, 1) if rate else None,
                "eta": round(eta) if eta is not None else None,
                "fraction": round(p.fraction(), 4) if p.fraction() is not None else None,
            }
        return out

    # ---- drawing ------------------------------------------------------------------------------
    def render(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self.quiet or (not force and now - self._last < self.interval):
            return
        self._last = now
        active = [p for p in self.phases.values() if p.started is not None]
        if not active:
            return
        if self._tty:
            if self._drawn:
                self.stream.write(f"\x1b[{self._drawn}F")
            lines = ([self.title] if self.title else []) + [self._line(p, now) for p in active]
            self.stream.write("".join(f"\x1b[2K{line}\n" for line in lines))
            self._drawn = len(lines)
        else:
            parts = [self._short(p, now) for p in active]
            self.stream.write(f"{self.title} " + " | ".join(parts) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.render(force=True)

    @staticmethod
    def _line(p: Phase, now: float) -> str:
        frac = p.fraction()
        width = 24
        bar = "█" * round((frac or 0) * width) + "░" * (width - round((frac or 0) * width))
        total = f"/{p.total:,}" if p.total else ""
        pct = f"{frac:4.0%}" if frac is not None else "    "
        rate, eta = p.rate(now), p.eta(now)
        rate_s = f"{rate:,.0f} 行/秒" if rate else ""
        eta_s = "完成" if p.finished else (f"剩余 {_clock(eta)}" if eta is not None else "")
        return f"{p.label} {bar} {p.done:,}{total} {pct} {rate_s:>12} {eta_s}"

    @staticmethod
    def _short(p: Phase, now: float) -> str:
        frac, rate, eta = p.fraction(), p.rate(now), p.eta(now)
        s = f"{p.label} {p.done:,}" + (f"/{p.total:,}" if p.total else "")
        if frac is not None:
            s += f" {frac:.0%}"
        if rate:
            s += f" {rate:,.0f}行/秒"
        if p.finished:
            s += " 完成"
        elif eta is not None:
            s += f" 剩余{_clock(eta)}"
        return s


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
