"""The rules of teamkeys: models, use cases and the permission matrix. No infrastructure here."""
