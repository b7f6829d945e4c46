"""Confirmation before acting: a monitor is DOWN for acting only when a quorum of regions sees it."""
