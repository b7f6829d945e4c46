"""Small adapters over the AWS APIs autoheal calls; everything else in chalicelib is pure."""
