"""One module per part of the web console."""
