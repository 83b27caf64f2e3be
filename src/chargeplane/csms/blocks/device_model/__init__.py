"""Device model (B05-B08 on the CSMS side): reports, variables and their history per station."""
