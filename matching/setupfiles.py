"""Set-up-time file helpers of the conversion and the export: an inter-process lock, so that
concurrent set-up steps run once, and the replacement of a folder by a finished sibling."""

import contextlib
import os
import shutil
import uuid
from pathlib import Path


@contextlib.contextmanager
def locked(lock_path: Path):
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing) for the ``with`` block."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def swap_in(tmp: Path, out: Path) -> None:
    """Put the finished folder ``tmp`` in ``out``'s place; a previous ``out`` is removed after."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(out, old)
    os.rename(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
