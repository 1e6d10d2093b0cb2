"""What every vendor shares, and nothing vendor-specific."""
