"""How every page route behaves, in one place: the visitor is found before the route runs,
forms are checked for their token, refusals become pages (never JSON), and every answer carries
the page headers and, on a first visit, the browser cookie."""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import UowDep
from api.errors import failure_of, status_of
from domain.errors import (
    DomainError,
    EmailNotVerified,
    NotAllowed,
    NotFound,
    Throttled,
    Unauthenticated,
)
from infra.db import UnitOfWork
from web.render import page_headers, redirect, render
from web.session import CSRF_FIELD, ForgedForm, Page, check_form_token, open_page, set_cookies

M = TypeVar("M", bound=BaseModel)


def page(request: Request, uow: UowDep) -> Page:
    return open_page(request, uow)


class PageRoute(APIRoute):
    """A page's refusals as pages: not signed in → the sign-in page (and back after); a
    forged form → 403; a page the visitor may not see → 404, as if it did not exist; a
    dependency down → a 503 page with ``Retry-After``, a bug → a 500 page (``api.errors``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                if any("\x00" in value for value in request.path_params.values()):
                    raise NotFound("No such page.")  # no id holds a NUL (PostgreSQL refuses it)
                response = await handler(request)
            except ForgedForm as refused:
                response = render(request, "error.html", 403, title="Form expired", error=refused)
            except Unauthenticated:
                if request.method == "GET":  # back to the page after signing in
                    target = request.url.path + (
                        f"?{request.url.query}" if request.url.query else ""
                    )
                    response = redirect(f"/sign-in?next={quote(target, safe='')}")
                else:  # a form: its page is where to start again
                    response = redirect("/sign-in")
            except EmailNotVerified:
                response = redirect("/check-email")
            except (NotFound, NotAllowed):
                response = render(request, "error.html", 404, title="Not found", error=None)
            except DomainError as refused:  # any other refusal: a page with the API's status
                response = render(
                    request, "error.html", status_of(refused), title="Not done", error=refused
                )
            except (StarletteHTTPException, RequestValidationError):
                raise  # the application's handlers answer what HTTP itself refuses
            except Exception as exc:  # a dependency down (503) or a bug (500): logged once
                failure = failure_of(exc, request.scope)
                # Shown as to anyone: the visitor's account may need the database to show.
                request.state.page = None
                waits = {"retry_after": failure.headers["Retry-After"]} if failure.headers else {}
                response = render(
                    request,
                    "error.html",
                    failure.status,
                    title="Unavailable" if failure.status == 503 else "Something went wrong",
                    error=failure,
                    **waits,
                )
            set_cookies(request, response)
            for name, value in page_headers(request).items():
                response.headers.setdefault(name, value)
            return response

        return handle


def page_router() -> APIRouter:
    return APIRouter(route_class=PageRoute, dependencies=[Depends(page)], include_in_schema=False)


async def checked_form(request: Request) -> Mapping[str, str]:
    """The posted form's fields, once its token is checked (403 page if it is not ours)."""
    form = await request.form()
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    check_form_token(request, fields.pop(CSRF_FIELD, ""))
    return fields


Form = Annotated[Mapping[str, str], Depends(checked_form)]


class Invalid(Exception):
    """A form the API would refuse with 422: each field's problem, to show beside it."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid form")
        self.fields = fields


def parse(model: type[M], form: Mapping[str, str], **extra: Any) -> M:
    """The form read as the API reads the same body (its request model), so both refuse alike."""
    data = {name: form.get(name, "") for name in model.model_fields} | extra
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        fields: dict[str, str] = {}
        for problem in invalid.errors():
            name = str(problem["loc"][0]) if problem["loc"] else ""
            fields.setdefault(name, problem["msg"])
        raise Invalid(fields) from invalid


#: The form field a domain refusal is about, by its code, as the forms name their fields: its
#: message is shown beside that field as well as above the form. A code about a new password
#: names both spellings (``password`` at sign-up, ``new_password`` on a reset); a form shows
#: the one it has. A refusal not listed (a spent link, a limit) is about the whole form.
FIELDS_OF_CODE: dict[str, tuple[str, ...]] = {
    "invalid_name": ("name",),
    "name_has_link": ("name",),
    "name_taken": ("name",),
    "email_taken": ("email",),
    "invalid_credentials": ("email", "password"),
    "weak_password": ("password", "new_password"),
    "invalid_password": ("password", "new_password"),
    "wrong_password": ("current_password",),
    "card_expired": ("exp_month", "exp_year"),
}


def fields_of(refused: DomainError, named: Collection[str] = ()) -> dict[str, str]:
    """The fields ``refused`` is about (:data:`FIELDS_OF_CODE`), each with its message; or,
    for a message that begins with one of the form's ``named`` fields ("last4 looks like a
    card number…"), that field."""
    about = FIELDS_OF_CODE.get(refused.code, ())
    if not about and (first := refused.message.split(" ", 1)[0]) in named:
        about = (first,)
    return {name: refused.message for name in about}


def form_error(refused: DomainError | Invalid, named: Collection[str] = ()) -> dict[str, Any]:
    """What a form page shows when the domain (or the request model) refuses it: the same
    message and code the API answers with, and the fields it is about (:func:`fields_of`)."""
    if isinstance(refused, Invalid):
        return {"error": "Please correct the fields marked below.", "fields": refused.fields}
    shown: dict[str, Any] = {
        "error": refused.message,
        "code": refused.code,
        "fields": fields_of(refused, named),
    }
    if isinstance(refused, Throttled):
        shown["retry_after"] = refused.retry_after  # web.render sends it as Retry-After
    return shown


def refused_form(
    request: Request, template: str, refused: DomainError | Invalid, **context: Any
) -> Response:
    """``template`` again, with the refusal beside the form and the API's status."""
    return render(request, template, status_of_refusal(refused), **form_error(refused), **context)


def settle(
    uow: UnitOfWork,
    act: Callable[[], object],
    done: str,
    refused: Callable[[DomainError | Invalid], Response],
) -> Response:
    """What a form does once its token is checked: ``act`` (the domain call the API's route
    makes, reading the form as the API reads its body); committed, the browser goes on to
    ``done`` (303); refused, the change is rolled back and ``refused`` answers (the page again
    with the refusal beside its form, or raises for the error page)."""
    try:
        act()
        uow.commit()
    except (DomainError, Invalid) as refusal:
        uow.session.rollback()
        return refused(refusal)
    return redirect(done)


def status_of_refusal(refused: DomainError | Invalid) -> int:
    """A refused form answers with the status the API gives the same refusal."""
    return 422 if isinstance(refused, Invalid) else status_of(refused)
