"""Security events (A04): the log of the stations' and the CSMS transport's security events."""
