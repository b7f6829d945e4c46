"""A probe run: probe the monitors, fold results into UP/DOWN, tell the alarms topic."""
