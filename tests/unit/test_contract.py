"""The project's docs against the product contract they were written from, where that contract
is on this machine.

``docs/product.md`` and ``docs/api.md`` are what the code is tested against in every clone. The
product contract (``DESIGN.md`` and ``API.md``) lives beside the repository, in ``../shared``,
or where ``TEAMKEYS_CONTRACT_DIR`` says; where it is, these tests keep the docs from drifting
from it. Where it is not (a plain clone), they skip and say so."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.api_doc import documented_endpoints
from tests.unit.test_permissions import PRODUCT_DOC, table_lines

REPO = Path(__file__).parents[2]
CONTRACT = Path(os.environ.get("TEAMKEYS_CONTRACT_DIR", REPO.parent / "shared"))
#: A route row of API.md: | `METHOD /path` | who | body → answer |
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \| ([^|]+) \| (.*) \|$")
STATUS = re.compile(r"\b([1-5]\d\d)\b")


def contract(name: str) -> Path:
    path = CONTRACT / name
    if not path.exists():
        pytest.skip(f"the product contract's {name} is not on this machine ({path})")
    return path


def shape(path: str) -> str:
    """A path with each parameter as ``{}``, and no query: the same route in both documents."""
    return re.sub(r"\{[^}]+\}", "{}", path.split("?")[0])


def test_the_permission_table_is_the_contracts_cell_by_cell() -> None:
    design = contract("DESIGN.md").read_text(encoding="utf-8")
    assert table_lines(PRODUCT_DOC.read_text(encoding="utf-8")) == table_lines(design)


def test_each_route_the_contract_gives_answers_in_docs_api_md_with_its_statuses() -> None:
    rows = [ROW.match(line) for line in contract("API.md").read_text("utf-8").splitlines()]
    ours = {(e.method, shape(e.path)): e for e in documented_endpoints()}
    checked = 0
    for row in filter(None, rows):
        method, path, _who, answer = row.groups()
        endpoint = ours.get((method, shape(path)))
        if endpoint is None:
            continue  # not built yet; tests/unit/test_api_doc.py holds docs/api.md to the app
        checked += 1
        missing = set(STATUS.findall(answer)) - set(STATUS.findall(endpoint.answers))
        assert not missing, f"{method} {path}: docs/api.md does not give {sorted(missing)}"
    assert checked >= 40, f"only {checked} of the contract's routes were found in docs/api.md"
