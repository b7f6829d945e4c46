"""Incidents: what an alarm opens, joins or closes (`alarm`), what `follow_up` carries on
(`follow_up`, `scheduled_runs`), and the daily digest of them (`digest`). Services only:
`chalicelib.wiring` builds and injects them, and `app.py` hands each its event."""
