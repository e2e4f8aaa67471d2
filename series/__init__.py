"""The mail side: threads, series, patches, trailers, replies (b4 + unidiff)."""
