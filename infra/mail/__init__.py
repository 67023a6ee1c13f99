"""Email pipeline: render templates, build MIME messages, hand them to an SMTP transport."""
