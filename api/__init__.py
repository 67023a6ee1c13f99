"""The HTTP API (FastAPI): validates, calls the domain in one transaction, answers JSON."""
