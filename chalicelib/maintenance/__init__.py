"""Maintenance mode."""
