"""Writing an analysis's files all or nothing, and its parameters as a table."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from layers.errors import InputError


def to_files_all_or_nothing(out_dir: str | Path, writers: Mapping[str, Callable[[Path], object]], *, prefix: str) -> list[Path]:
    """Each ``writers[name](path)`` writes one file into a staging folder beside ``out_dir``; only
    when every one has succeeded are they renamed into ``out_dir`` (a failure leaves no file)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{out}: cannot create the output folder ({error.strerror})") from None
    with tempfile.TemporaryDirectory(dir=out, prefix=prefix) as work:
        staging = Path(work)
        for name, write in writers.items():
            write(staging / name)
        for name in writers:
            os.replace(staging / name, out / name)
    return [out / name for name in writers]


def parameters_frame(metadata: Mapping[str, Any], key: str = "key", value: str = "value") -> pd.DataFrame:
    """``metadata`` as two columns: the key, and its value as JSON (Chinese kept readable)."""
    return pd.DataFrame({key: list(metadata), value: [json.dumps(v, ensure_ascii=False, default=str) for v in metadata.values()]})
