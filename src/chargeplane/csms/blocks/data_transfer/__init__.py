"""Data transfer (P01, P02): vendor-specific DataTransfer in both directions."""
