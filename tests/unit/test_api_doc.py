"""docs/api.md and the application agree on the endpoints: every route the app serves is
documented, and every documented endpoint is served (method and path, parameters named alike)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from infra.services import build_services
from infra.settings import Settings
from tests.api_doc import documented_endpoints
from tests.support import TEST_ENCRYPTION_KEY

Route = tuple[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[Route]]:
    """(method, path) of every route a freshly built app serves, as its OpenAPI document lists
    them (FastAPI includes routers lazily, so ``app.routes`` does not list them one by one);
    nothing is started or connected, no request is made."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="",
        broker_url="",
        redis_url="",
        data_dir=Path(tmp_path_factory.mktemp("api-doc")),
        encryption_key=TEST_ENCRYPTION_KEY,
    )
    services = build_services(settings)
    try:
        paths = create_app(services).openapi()["paths"]
        yield {
            (method.upper(), path) for path, operations in paths.items() for method in operations
        }
    finally:
        services.close()


def documented() -> list[Route]:
    return [(endpoint.method, endpoint.path) for endpoint in documented_endpoints()]


def test_every_route_of_the_app_is_documented(served: set[Route]) -> None:
    missing = sorted(served - set(documented()))
    assert not missing, f"served but not in docs/api.md: {missing}"


def test_every_documented_endpoint_is_served(served: set[Route]) -> None:
    extra = sorted(set(documented()) - served)
    assert not extra, f"in docs/api.md but not served: {extra}"


def test_each_endpoint_is_documented_once() -> None:
    twice = sorted(route for route, count in Counter(documented()).items() if count > 1)
    assert not twice, f"listed more than once in docs/api.md: {twice}"


def test_each_endpoint_says_who_may_call_it_and_what_it_answers() -> None:
    for endpoint in documented_endpoints():
        where = f"{endpoint.method} {endpoint.path}"
        assert endpoint.who, f"{where}: who may call it?"
        assert endpoint.answers[:1].isdigit(), f"{where}: answers start with the success status"
