"""OCPP 2.0.1 Part 6 §3 cases: the system under test is a CSMS. One module per functional block."""
