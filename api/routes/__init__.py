"""One module per resource of API.md."""
