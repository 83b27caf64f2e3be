"""Station lifecycle (B01-B04, G02): registration, BootNotification, Heartbeat, presence."""
