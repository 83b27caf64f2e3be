"""Transactions and metering (E01-E15, J01-J03): TransactionEvent, 1.6 Start/Stop, MeterValues."""
