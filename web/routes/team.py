"""The team console's entrance: ``/team`` opens the members page."""

from __future__ import annotations

from fastapi import Response

from web.pages import page_router
from web.render import redirect
from web.team import MyTeam

router = page_router()


@router.get("/team")
def team_home(team: MyTeam) -> Response:
    del team  # asked for: only a member of a team gets this far
    return redirect("/team/members")
