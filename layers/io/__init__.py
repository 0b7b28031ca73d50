"""Files in and out: readers of the files bureaus keep, the import and its checks, exports and analysis outputs, GeoJSON."""
