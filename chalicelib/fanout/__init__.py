"""Probing many monitors: the scheduler splits them into shards, one SQS message per shard and
cycle, and `probe_worker` probes a shard and writes its summary (see `plan`, `scheduler`, `worker`)."""
