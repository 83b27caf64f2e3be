"""DER control (2.1 R04, R05), CSMS side."""
