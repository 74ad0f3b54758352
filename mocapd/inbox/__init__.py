"""The inbox side: finding finished copies on the share, checking them, and taking them in."""
