"""Deploying and operating autoheal: stage names, IAM policies, the packaged template, and the
operator command. Never shipped to Lambda (Chalice packages only app.py and chalicelib/)."""
