#!/usr/bin/env node
// Bundles server.ts (Lumen's production server) to .next/lumen-server.js; part of `npm run build`.
// Packages stay in node_modules (not bundled); the "@/…" paths of tsconfig.json are resolved here.
import path from "node:path";
import { build } from "esbuild";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
await build({
  entryPoints: [path.join(root, "server.ts")],
  outfile: path.join(root, ".next", "lumen-server.js"),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  packages: "external",
  tsconfig: path.join(root, "tsconfig.json"),
  sourcemap: "linked",
  logLevel: "warning",
});
console.log("Built .next/lumen-server.js");
