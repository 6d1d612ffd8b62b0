"""Write gcm_sim/data/outlines.geojson: the modelled countries' outlines, small and simplified.

Source: Natural Earth 1:110m Admin 0 countries (version 4.1.0, public domain), as TopoJSON in the
npm package world-atlas 2.0.2 (file countries-110m.json; ISC licence). Get it with the npm client:

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python experiments/outlines/make_outlines.py package/countries-110m.json

Only the countries in gcm_sim/data/countries.csv are kept (matched by ISO 3166 numeric code);
coordinates are rounded to 0.1 degree and rings with fewer than 4 distinct points are dropped.
Nothing is downloaded when the dashboard runs: it reads the GeoJSON written here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "gcm_sim" / "data" / "outlines.geojson"
# ISO 3166-1 alpha-3 -> numeric, for the world data's countries
NUMERIC = {"MEX": 484, "GTM": 320, "HND": 340, "SLV": 222, "USA": 840, "SEN": 686, "GIN": 324, "MLI": 466,
           "CIV": 384, "NGA": 566, "NER": 562, "LBY": 434, "TUN": 788, "ITA": 380, "FRA": 250, "DEU": 276,
           "SYR": 760, "AFG": 4, "TUR": 792, "GRC": 300, "BGD": 50, "NPL": 524, "PAK": 586, "IND": 356,
           "PHL": 608, "SAU": 682, "QAT": 634, "ARE": 784}


def decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring(arcs, refs) -> list[list[float]]:
    pts: list[tuple[float, float]] = []
    for r in refs:
        a = arcs[r] if r >= 0 else arcs[~r][::-1]
        pts.extend(a if not pts else a[1:])
    out: list[list[float]] = []
    for x, y in pts:
        p = [round(x, 1), round(y, 1)]
        if not out or p != out[-1]:
            out.append(p)
    if out and out[0] != out[-1]:
        out.append(out[0])
    return out


def main(path: str) -> None:
    import csv

    topo = json.loads(Path(path).read_text())
    arcs = decode_arcs(topo)
    codes = [r["iso3"] for r in csv.DictReader(open(ROOT / "gcm_sim" / "data" / "countries.csv"))]
    by_id = {int(g["id"]): g for g in topo["objects"]["countries"]["geometries"] if g.get("id", "").isdigit()}
    features = []
    for code in codes:
        g = by_id[NUMERIC[code]]
        polys = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]
        rings = [[ring(arcs, r) for r in poly] for poly in polys]
        rings = [[r for r in poly if len(r) >= 5] for poly in rings]
        rings = [poly for poly in rings if poly]
        features.append({"type": "Feature", "properties": {"name": code, "ne_name": g["properties"]["name"]},
                         "geometry": {"type": "MultiPolygon", "coordinates": rings}})
    OUT.write_text(json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":")) + "\n")
    print(OUT, OUT.stat().st_size, "bytes;", ", ".join(f"{f['properties']['name']}={f['properties']['ne_name']}"
                                                    for f in features))


if __name__ == "__main__":
    main(sys.argv[1])
