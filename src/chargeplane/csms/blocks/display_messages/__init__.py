"""Display messages (O01-O06), CSMS side."""
