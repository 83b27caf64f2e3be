"""The functional blocks of the CSMS, one package each (handlers.py, service.py, repository.py, api.py,
tables.py, block.py). :data:`BLOCKS` is the install order: a block may use the services of those before it."""

BLOCKS = (
    "provisioning",  # B01-B04, G02: stations, boot, heartbeat, presence
    "authorization",  # C01-C16, D01-D02: id tokens, Authorize, local authorization lists
    "availability",  # G01-G05: EVSE/connector status, StatusNotification, NotifyEvent, ChangeAvailability
    "reservation",  # H01-H04
    "transactions",  # E01-E15, J01-J03: transactions and meter values (marks reservations used)
    "remote_control",  # F01-F06, B11-B12: remote start/stop, unlock, trigger, reset; the commands API
    "data_transfer",  # P01-P02
)
