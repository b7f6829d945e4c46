"""The static status site in S3: status.json, index.html, feed.xml and maintenance.html.

`site.StatusSite` is the entry point (fed by the probe each cycle, republished on every
maintenance change); `document` builds status.json, `render`, `feed` and `maintenance_page`
turn it into the pages, `history` keeps the daily rollups and `publish` writes to S3.
"""
