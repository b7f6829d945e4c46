"""Blue/green and canary shifts on ALB forward weights: plans, gates, a state machine, a store.

The domain (strategies, machine, gates.compare_traffic) is pure; `shifter.Shifter` moves the
listener through `chalicelib.aws.elbv2` and records every move in the state table.
"""
