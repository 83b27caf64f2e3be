"""Payments (2.1 C17, C19-C25 on the CSMS side): the payment-provider seam, settlements, VAT numbers, the
kiosk and QR payment pages, prepaid balances."""

from __future__ import annotations

from typing import cast

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.display_messages.service import DisplayMessageService
from chargeplane.csms.blocks.payments import api, handlers
from chargeplane.csms.blocks.payments.provider import PaymentProvider, TestProvider, load_factory
from chargeplane.csms.blocks.payments.receipt_display import ReceiptDisplay
from chargeplane.csms.blocks.payments.repository import PaymentRepository
from chargeplane.csms.blocks.payments.service import PaymentService
from chargeplane.csms.blocks.payments.settings import PaymentsSettings
from chargeplane.csms.blocks.payments.vat import TestVatValidator, VatValidator
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.tariffs.service import TariffService
from chargeplane.csms.blocks.transactions.service import TransactionService


def provider_of(settings: PaymentsSettings) -> PaymentProvider:
    if settings.provider == "test":
        return TestProvider()
    return cast(PaymentProvider, load_factory(settings.provider)(settings))


def validator_of(settings: PaymentsSettings) -> VatValidator:
    if settings.vat_validator == "test":
        return TestVatValidator()
    return cast(VatValidator, load_factory(settings.vat_validator)(settings))


def install(context: BlockContext, settings: PaymentsSettings) -> None:
    receipts = ReceiptDisplay(
        context.require(DisplayMessageService),
        context.require(DeviceModelService),
        context.clock,
        settings.receipt_display_time,
    )
    service = PaymentService(
        PaymentRepository(context.engine, context.committer),
        settings,
        provider_of(settings),
        validator_of(settings),
        context.require(CommandService),
        context.commands,
        context.require(TariffService),
        context.require(DeviceModelService),
        context.require(AuthorizationService),
        context.events,
        context.clock,
        lambda: context.api_base_url(settings.public_url),
        receipts,
    )
    handlers.register(context.routers, service)
    context.require(AuthorizationService).add_decision_filter(service.on_decision)
    context.require(TransactionService).add_event_listener(service.on_event)  # after the tariffs block's
    context.every(
        "payments.settlement_retries", min(max(settings.retry_interval / 4, 1.0), 60.0), service.tick
    )
    context.jobs.append(receipts.run)  # C24.FR.11 / C25.FR.41 after the answer
    context.routes.extend(api.routes(service))
    context.provide(service)


BLOCK = Block(
    "payments",
    PaymentsSettings,
    install,
    requires=(
        "authorization",
        "transactions",
        "tariffs",
        "remote_control",
        "device_model",
        "display_messages",
    ),
    summary="C17, C19-C25 (CSMS side)",
)
