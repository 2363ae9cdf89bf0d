"""Where the files live, decided in one place for the web app, the commands and the benchmarks.

Generated: one data folder (``MARKET_DATA_DIR``, default ``data/var`` in the checkout), the converted
model in it unless ``MARKET_MODEL_DIR`` names another, and the content-addressed embedding cache.
Shipped with the code: the checkout's ``data/`` (reference tables, dictionaries, ranking defaults,
demo data), reached as package data of ``matching`` — through the ``matching/data`` link in a
checkout, as copied files in a wheel."""

import os
from importlib import resources
from pathlib import Path

from .modelfiles import MODEL_NAME

CHECKOUT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(os.environ.get("MARKET_DATA_DIR") or CHECKOUT / "data" / "var").resolve()


def model_dir(folder: Path | None = None) -> Path:
    """``$MARKET_MODEL_DIR``, else models/<model> in ``folder`` (default: the data folder)."""
    env = os.environ.get("MARKET_MODEL_DIR")
    return Path(env) if env else (folder or data_dir()) / "models" / MODEL_NAME


def embed_cache(folder: Path | None = None) -> Path:
    return (folder or data_dir()) / "cache" / "embeddings.sqlite"


def shipped(*parts: str) -> Path:
    """A file or folder of the shipped ``data/``, e.g. ``shipped("reference", "regions.json")``."""
    return Path(str(resources.files(__package__).joinpath("data", *parts)))
