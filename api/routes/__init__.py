"""One module per resource of docs/api.md."""
