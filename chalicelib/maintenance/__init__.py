"""Maintenance mode and scheduled windows: what is in maintenance, when, and the manual switch,
and the ALB listener's divert and restore."""
