"""The static status site in S3: status.json now; the pages arrive with the status-site work."""
