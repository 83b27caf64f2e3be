"""OCPP side of payments (2.1 only): NotifySettlement (C19-C22) and VatNumberValidation (C18.FR.08-10)."""

from __future__ import annotations

from decimal import Decimal

from msgspec import UNSET, to_builtins

from chargeplane.csms.blocks.payments.service import PaymentService, Settlement
from chargeplane.csms.errors import Invalid
from chargeplane.ocpp.errors import PropertyConstraintViolation
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import present, unset_if_none
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: PaymentService) -> None:
    router = routers[Version.V21]

    async def notify_settlement(
        request: v21.messages.NotifySettlementRequest, conn: OcppConnection
    ) -> v21.messages.NotifySettlementResponse:
        if request.settlement_amount < 0:
            raise PropertyConstraintViolation("settlementAmount must not be negative")
        company = present(request.vat_company)
        settlement = Settlement(
            psp_ref=request.psp_ref,
            status=str(request.status),
            amount=Decimal(str(request.settlement_amount)),
            time=from_wire(request.settlement_time),
            transaction_id=present(request.transaction_id),
            status_info=present(request.status_info),
            receipt_id=present(request.receipt_id),
            receipt_url=present(request.receipt_url),
            vat_number=present(request.vat_number),
            vat_company=to_builtins(company) if company is not None else None,
        )
        try:
            payment = await service.notify_settlement(conn.station_id, settlement)
        except Invalid as error:
            raise PropertyConstraintViolation(str(error)) from None
        if payment.status != "Settled" or request.receipt_url is not UNSET:
            return (
                v21.messages.NotifySettlementResponse()
            )  # the terminal's own receipt (C21, second scenario)
        return v21.messages.NotifySettlementResponse(  # C21 first scenario: the CSMS's receipt
            receipt_url=service.receipt_url(payment), receipt_id=unset_if_none(payment.receipt_id)
        )

    async def vat_number_validation(
        request: v21.messages.VatNumberValidationRequest, conn: OcppConnection
    ) -> v21.messages.VatNumberValidationResponse:
        answer = await service.validate_vat(request.vat_number)
        company = answer.company
        return v21.messages.VatNumberValidationResponse(
            vat_number=request.vat_number,
            evse_id=request.evse_id,  # C18.FR.10: the same evseId
            status=v21.enums.GenericStatusEnumType.ACCEPTED
            if answer.accepted
            else v21.enums.GenericStatusEnumType.REJECTED,
            company=v21.datatypes.AddressType(
                name=company.name[:50],
                address1=company.address1[:100],
                address2=unset_if_none(company.address2),
                city=company.city[:100],
                postal_code=unset_if_none(company.postal_code),
                country=company.country[:50],
            )
            if company is not None
            else UNSET,
            status_info=v21.datatypes.StatusInfoType(
                reason_code="InvalidValue", additional_info=(answer.reason or "")[:1024]
            )
            if not answer.accepted
            else UNSET,
        )

    router.register(v21.messages.NotifySettlementRequest, notify_settlement)
    router.register(v21.messages.VatNumberValidationRequest, vat_number_validation)
