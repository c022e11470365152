#!/usr/bin/env python3
"""Print a GeoJSON FeatureCollection of cells as CSV rows: code,geometry-as-GeoJSON (for COPY)."""
import csv, json, sys

w = csv.writer(sys.stdout)
for f in json.load(open(sys.argv[1], encoding="utf-8"))["features"]:
    w.writerow([f["properties"]["code"], json.dumps(f["geometry"], separators=(",", ":"))])
