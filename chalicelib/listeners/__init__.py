"""One owner per ALB listener: every write to a listener's default action goes through here.

A shift's move, a rollback, a maintenance divert and its restore all edit one desired state
per listener (the traffic action plus an optional overlay such as the maintenance page); the
owner writes the action from that state under the listener's write lease, reads it back, and
`reconcile` repairs a listener left behind by a crash or tells people of a change made by hand.
"""
