"""The command line the PostGIS benchmarks share: their whole-number options and the database
they compare against (ONEMAP_BENCH_PG_URL, else ONEMAP_TEST_PG_URL)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping


def parse_bench_args(description: str | None, counts: Mapping[str, tuple[int, str]], *, database: str = "PostGIS") -> argparse.Namespace:
    """The options ``counts`` (flag → (default, help)) as parsed, and the database URL as
    ``pg_url``. Without a URL it says what to set and exits with status 2."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, (default, help_text) in counts.items():
        parser.add_argument(flag, type=int, default=default, help=f"{help_text} (default {default})")
    arguments = parser.parse_args()
    arguments.pg_url = os.environ.get("ONEMAP_BENCH_PG_URL") or os.environ.get("ONEMAP_TEST_PG_URL")
    if not arguments.pg_url:
        parser.exit(2, f"set ONEMAP_BENCH_PG_URL to a {database} database, or run `bash .ci/bench`\n")
    return arguments
