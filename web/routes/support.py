"""The support console (``/support``): agents only. Anyone else signed in gets 404, as if it
did not exist; anyone signed out is asked to sign in."""

from __future__ import annotations

from fastapi import Request, Response

from domain.teams import require_support
from web.pages import page_router
from web.render import render
from web.session import PageAccount

router = page_router()


@router.get("/support")
def support_home(request: Request, account: PageAccount) -> Response:
    require_support(account)
    return render(request, "support/home.html", title="Support console")
