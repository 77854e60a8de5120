#!/usr/bin/env python3
"""Write static/geo/us-states.geojson: simplified outlines of the 50 states and DC, drawn under the results map
(static/js/results-map.js) so the map reads well without any tile server.

The outlines come from the PyPI package `bokeh-sampledata` (its `us_states` records: U.S. Census Bureau,
TIGER/Line Shapefiles, simplified; redistribution permitted with acknowledgement to the Census Bureau), read
offline. It is not a dependency of the app: run this once in a scratch virtual environment and commit the file.

    python3 -m venv /tmp/outlines && /tmp/outlines/bin/pip install bokeh-sampledata shapely
    /tmp/outlines/bin/python bench/state_outlines.py     # writes static/geo/us-states.geojson (about 100 KB)

The same package version gives the same bytes. Puerto Rico and the other territories are not in the source.
"""

import json
from pathlib import Path

from bokeh_sampledata.us_states import records
from shapely.geometry import mapping

OUTPUT = Path(__file__).resolve().parent.parent / "static" / "geo" / "us-states.geojson"
TOLERANCE = 0.01  # degrees (about 1 km): invisible at the zoom levels of a search, small to send
DIGITS = 3


def rounded(value):
    if isinstance(value, float):
        return round(value, DIGITS)
    return [rounded(item) for item in value]


def main():
    features = []
    for state in records():
        geometry = state["geometry"].simplify(TOLERANCE, preserve_topology=True)
        shape = mapping(geometry)
        features.append(
            {
                "type": "Feature",
                "properties": {"code": state["code"], "name": state["name"]},
                "geometry": {"type": shape["type"], "coordinates": rounded(shape["coordinates"])},
            }
        )
    collection = {
        "type": "FeatureCollection",
        "attribution": "U.S. Census Bureau, TIGER/Line Shapefiles (simplified)",
        "features": features,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(collection, separators=(",", ":")) + "\n")
    print(f"{OUTPUT}: {len(features)} outlines, {OUTPUT.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
