"""Tools built on the Chargeplane stack (conformance testing)."""
