"""V2X (2.1 block Q), CSMS side."""
