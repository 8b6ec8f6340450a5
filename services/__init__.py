"""The four microcredit services; each runs as its own process with `python -m services.<name>`."""
