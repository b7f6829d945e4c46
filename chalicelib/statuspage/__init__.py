"""The static status site in S3: status.json, index.html, history.html, feed.xml,
maintenance.html and badges/<component>.svg, stored gzip-encoded.

`site.StatusSite` is the entry point (fed by the probe each cycle, republished on every
maintenance change); `refresh.SiteRefresher` republishes it on every public change of an
incident (at most once a second). `document` builds status.json; `render`, `history_page`,
`feed`, `maintenance_page` and `badges` turn it into the pages; `history` keeps the daily
rollups and `publish` writes to S3.
"""
