"""Maintenance mode and scheduled windows: what is in maintenance, when, and the manual switch."""
