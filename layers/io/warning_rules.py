"""The warning rules file (YAML): the shipped defaults (``layers/defaults/warning_rules.yaml``,
each default with its source) or a bureau's own copy."""

from __future__ import annotations

from pathlib import Path

from gis.warning.rules import RuleError, RuleSet
from layers.errors import InputError
from layers.io.yaml_file import read_yaml

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "defaults" / "warning_rules.yaml"


def read_warning_rules(path: str | Path | None = None) -> RuleSet:
    """The rules in ``path``, or the shipped defaults; an InputError names the file and the rule."""
    path = Path(path) if path is not None else DEFAULT_RULES
    document = read_yaml(path, what="warning rules")
    try:
        return RuleSet.from_mapping(document or {}, source=str(path))
    except RuleError as error:
        raise InputError(str(error)) from None
