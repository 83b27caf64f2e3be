"""OCPP 2.0.1 Part 6 §2 cases: the system under test is a charging station. One module per functional block."""
