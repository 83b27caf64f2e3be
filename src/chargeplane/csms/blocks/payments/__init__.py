"""Payments (2.1 C17, C19-C25 on the CSMS side)."""
