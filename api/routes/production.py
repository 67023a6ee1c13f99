"""Go to Production and the payment method (docs/api.md): owners apply and keep a card on file."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from api.deps import CurrentAccount, UowDep
from api.routing import answer, api_router, committed
from api.schemas import (
    PaymentMethodOut,
    PaymentMethodRequest,
    ProductionApplicationOut,
    ProductionApplicationRequest,
    ProductionApplicationStatus,
)
from domain import payments, production
from domain.models import ProductionStatus

router = api_router(prefix="/v1/teams/{team_id}", tags=["go to production"])


@router.put(
    "/production-application",
    **answer(ProductionApplicationStatus, 400, 401, 403, 404, 409, 422, status=202),
)
def submit(
    team_id: str, body: ProductionApplicationRequest, uow: UowDep, account: CurrentAccount
) -> JSONResponse:
    """Apply to go to production (owners). The review job decides, or hands the application
    to a support agent; owners are emailed each decision."""
    production.submit_application(
        uow.session,
        account,
        team_id,
        production.Application(**body.model_dump(mode="json", exclude={"accept_terms"})),
    )
    return committed(uow, JSONResponse({"status": "submitted"}, status_code=202))


@router.get("/production-application", **answer(ProductionApplicationOut, 401, 403, 404))
def status(team_id: str, uow: UowDep, account: CurrentAccount) -> ProductionApplicationOut:
    """The team's production status and its latest application (``none`` before any)."""
    latest = production.latest_application(uow.session, account, team_id)
    if latest is None:
        return ProductionApplicationOut(
            status=ProductionStatus.NONE, submitted_at=None, decided_at=None, reasons=[]
        )
    return ProductionApplicationOut.model_validate(latest)


@router.get("/payment-method", **answer(PaymentMethodOut, 401, 403, 404))
def get_payment_method(team_id: str, uow: UowDep, account: CurrentAccount) -> PaymentMethodOut:
    method = payments.get_payment_method(uow.session, account, team_id)
    return PaymentMethodOut.model_validate(method)


@router.put("/payment-method", **answer(PaymentMethodOut, 400, 401, 403, 404, 422))
def set_payment_method(
    team_id: str, body: PaymentMethodRequest, uow: UowDep, account: CurrentAccount
) -> PaymentMethodOut:
    """Store the provider's reference and the card's display fields. A card number is never
    accepted; the provider token is never returned."""
    method = payments.set_payment_method(
        uow.session,
        account,
        team_id,
        payments.CardOnFile(**body.model_dump()),
    )
    return committed(uow, PaymentMethodOut.model_validate(method))
