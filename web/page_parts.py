"""Small pieces of our own HTML pages that must be safe whatever the data holds."""

from __future__ import annotations

import json
from typing import Any


def json_data_block(value: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element: no ``</`` can close it
    and no ``<!--`` can open a comment (``<``, ``>`` and ``&`` are escaped)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
