"""The access log never holds a share link's token: ``/s/<token>…`` is logged as ``/s/…``.

A share token is a bearer credential in a URL; a log line would let anyone who reads the log open
the link. The filter rewrites uvicorn's access-log records before any handler formats them.
"""

from __future__ import annotations

import logging
import re

_TOKEN_IN_PATH = re.compile(r"(/s/)(?!sw\.js)[^/?\s\"]+")


def redact(text: str) -> str:
    """``text`` with every share token in a ``/s/<token>`` path replaced by ``…``."""
    return _TOKEN_IN_PATH.sub(r"\1…", text)


class ShareTokenFilter(logging.Filter):
    """Redacts share tokens in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact(record.msg) if isinstance(record.msg, str) else record.msg
        return True


def redact_share_tokens(logger: logging.Logger) -> None:
    """Install the filter on ``logger`` (uvicorn.access), once."""
    if not any(isinstance(f, ShareTokenFilter) for f in logger.filters):
        logger.addFilter(ShareTokenFilter())
