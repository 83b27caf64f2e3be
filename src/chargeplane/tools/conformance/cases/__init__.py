"""Test cases, by side (``csms/``: the tool plays the charging station) and block; loaded by
:func:`chargeplane.tools.conformance.runner.load_cases`."""
