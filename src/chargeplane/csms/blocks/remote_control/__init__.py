"""Remote control (F01-F06, B11-B12) and the generic commands API: every CSMS-initiated command, logged."""
