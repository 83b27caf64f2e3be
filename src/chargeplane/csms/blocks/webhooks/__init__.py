"""Webhooks: station events POSTed to operator-registered URLs, signed, retried, dead-lettered."""
