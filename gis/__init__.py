"""Pure analyses and geodesy helpers: no I/O, no HTTP, no knowledge of tables."""
