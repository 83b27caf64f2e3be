"""A01 on the CSMS side: rotating a station's Basic-auth password."""
