"""Runbooks: what autoheal does about an alarm, one step at a time, within a budget."""
