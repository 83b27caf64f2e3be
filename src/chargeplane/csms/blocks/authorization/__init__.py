"""Authorization (C01-C16, D01-D02): id tokens, Authorize, local authorization lists."""
