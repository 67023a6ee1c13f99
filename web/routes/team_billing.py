"""The team console: billing."""

from __future__ import annotations

from web.pages import page_router

router = page_router()
