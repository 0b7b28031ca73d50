"""The adapters between the store and the analyses: routing, coverage, risk, the wall map's items, shares, writes from the wall and background jobs."""
