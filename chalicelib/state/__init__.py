"""Per-monitor health state: pure threshold logic (`thresholds`) and its DynamoDB store (`store`)."""
