"""Reading a YAML (or JSON) settings file that users write: the risk config, the warning rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from layers.errors import InputError


def read_yaml(path: str | Path, *, what: str) -> Any:
    """The parsed document; an InputError names the file when it is missing or not YAML."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
