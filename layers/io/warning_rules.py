"""The warning rules file (YAML): the shipped defaults (``layers/defaults/warning_rules.yaml``,
each default with its source) or a bureau's own copy."""

from __future__ import annotations

from pathlib import Path

import yaml

from gis.warning.rules import RuleError, RuleSet
from layers.errors import InputError

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "defaults" / "warning_rules.yaml"


def read_warning_rules(path: str | Path | None = None) -> RuleSet:
    """The rules in ``path``, or the shipped defaults; an InputError names the file and the rule."""
    path = Path(path) if path is not None else DEFAULT_RULES
    if not path.exists():
        raise InputError(f"{path}: warning rules file not found")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    try:
        return RuleSet.from_mapping(document or {}, source=str(path))
    except RuleError as error:
        raise InputError(str(error)) from None
