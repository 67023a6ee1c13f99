"""Schemathesis over the whole served OpenAPI document of a running system (issue 8).

Every operation of ``/openapi.json`` is called with generated input, signed in as an owner and
as a user of a real team (``team_id`` is the caller's own team, so requests get past the 404
that strangers meet). Each answer must not be a server error, and its status code, content type,
headers and body must be the ones the document describes. Bounded and derandomized, so a run
is the same every time and quick enough for CI on both backends.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import System

#: Generated cases per operation and caller: enough to find edge input, small enough for CI.
MAX_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Signing the caller out would turn the rest of the run into 401s: it goes last.
LAST = ("DELETE", "/v1/sessions/current")


def run_operation(
    operation: Any,
    base_url: str,
    headers: dict[str, str],
    paths: dict[str, str],
    seen: dict[int, int],
) -> None:
    known = {p.name: paths[p.name] for p in operation.path_parameters if p.name in paths} or None

    strategy = st.one_of(
        [
            operation.as_strategy(mode, path_parameters=known)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(
            base_url=base_url, headers=headers, checks=CHECKS, timeout=15
        )
        seen[response.status_code] = seen.get(response.status_code, 0) + 1

    fuzz()


@pytest.mark.parametrize("caller", ["owner", "user"])
def test_served_openapi_document_holds_under_fuzzing(system: System, caller: str) -> None:
    owner = system.sign_up("Olive Owner")
    team_id = owner["team"]["id"]
    user = system.join(team_id, "Uma User")
    person = owner if caller == "owner" else user
    document = system.http.get("/openapi.json")
    assert document.status_code == 200
    schema = schemathesis.openapi.from_dict(document.json())
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the served document has an invalid operation: {result}"
        operations.append(result.ok())
    operations.sort(key=lambda op: (op.method.upper(), op.path) == LAST)
    assert len(operations) > 30, "the served document should describe every route"

    base_url = str(system.http.base_url).rstrip("/")
    paths = {"team_id": team_id}
    failures: list[str] = []
    seen: dict[int, int] = {}
    for operation in operations:
        try:
            run_operation(operation, base_url, dict(person["headers"]), paths, seen)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    print(f"fuzzed {len(operations)} operations as {caller}; statuses: {sorted(seen.items())}")
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)
