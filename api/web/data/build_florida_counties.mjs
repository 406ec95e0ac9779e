// Builds florida-counties.json (one SVG path per Florida county, keyed by FIPS code) from the
// `us-atlas` package's counties-10m.json (US Census Bureau cartographic boundaries, public
// domain). Run once, by hand, and commit the output; nothing runs this at build or test time:
//
//   mkdir /tmp/atlas && cd /tmp/atlas && npm install us-atlas@3 topojson-client@3
//   NODE_PATH=/tmp/atlas/node_modules node build_florida_counties.mjs /tmp/atlas > florida-counties.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const root = process.argv[2];
const require = createRequire(path.join(root, "node_modules", "x.js"));
const { feature } = require("topojson-client");
const atlasFile = require.resolve("us-atlas/counties-10m.json");
const atlasVersion = JSON.parse(
  readFileSync(path.join(path.dirname(atlasFile), "package.json"), "utf8"),
).version;
const topology = JSON.parse(readFileSync(atlasFile, "utf8"));
const counties = feature(topology, topology.objects.counties).features.filter((f) =>
  String(f.id).startsWith("12"),
);

// An equirectangular projection scaled by cos(latitude) at Florida's middle: at this size it
// is indistinguishable from a conic one, and needs no projection library.
const WIDTH = 600;
let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
const rings = (geometry) =>
  geometry.type === "Polygon" ? geometry.coordinates : geometry.coordinates.flat();
for (const county of counties) {
  for (const ring of rings(county.geometry)) {
    for (const [lon, lat] of ring) {
      minX = Math.min(minX, lon); maxX = Math.max(maxX, lon);
      minY = Math.min(minY, lat); maxY = Math.max(maxY, lat);
    }
  }
}
const k = Math.cos((((minY + maxY) / 2) * Math.PI) / 180);
const scale = WIDTH / ((maxX - minX) * k);
const height = Math.ceil((maxY - minY) * scale);
const point = ([lon, lat]) =>
  `${((lon - minX) * k * scale).toFixed(1)},${((maxY - lat) * scale).toFixed(1)}`;
const output = {
  source: `us-atlas ${atlasVersion} counties-10m.json (US Census Bureau cartographic boundary files, public domain)`,
  width: WIDTH,
  height,
  counties: counties
    .map((county) => ({
      fips: String(county.id),
      name: county.properties.name,
      d: rings(county.geometry)
        .map((ring) => "M" + ring.map(point).join("L") + "Z")
        .join(""),
    }))
    .sort((a, b) => a.name.localeCompare(b.name)),
};
process.stdout.write(JSON.stringify(output) + "\n");
