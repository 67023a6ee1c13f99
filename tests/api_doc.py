"""The endpoints docs/api.md lists, read from its tables, for the tests that hold the code to it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

API_DOC = Path(__file__).parents[1] / "docs" / "api.md"
#: A table row whose first cell is an endpoint: | `METHOD /path` | who | body | answers |
_ENDPOINT = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)` \|")
#: A cell border: a pipe that is not escaped (``\|`` is a pipe inside a cell).
_BORDER = re.compile(r"(?<!\\)\|")


class Endpoint(NamedTuple):
    method: str
    #: As the application declares it, parameters named: ``/v1/teams/{team_id}``.
    path: str
    who: str
    body: str
    answers: str


def documented_endpoints() -> list[Endpoint]:
    endpoints = []
    for line in API_DOC.read_text(encoding="utf-8").splitlines():
        match = _ENDPOINT.match(line)
        if match is None:
            continue
        cells = [cell.strip() for cell in _BORDER.split(line.strip())[1:-1]]
        assert len(cells) == 4, f"docs/api.md: an endpoint row has four cells: {line}"
        _, who, body, answers = cells
        endpoints.append(Endpoint(match[1], match[2], who, body, answers))
    return endpoints
