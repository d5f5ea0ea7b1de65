#!/usr/bin/env node
// `npm start`: builds Lumen when the build is missing or older than the sources, then serves it.
import { spawnSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const buildId = path.join(root, ".next", "BUILD_ID");
const server = path.join(root, ".next", "lumen-server.js");
const sources = ["app", "components", "lib", "middleware.ts", "instrumentation.ts", "server.ts", "next.config.mjs", "package-lock.json", "postcss.config.mjs"];

function newestMtime(p) {
  let stat;
  try {
    stat = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

function needsBuild() {
  if (!fs.existsSync(buildId) || !fs.existsSync(server)) return true;
  const built = fs.statSync(buildId).mtimeMs;
  return sources.some((s) => newestMtime(path.join(root, s)) > built);
}

if (needsBuild()) {
  console.log("Building Lumen (first start or sources changed)…");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(npm, ["run", "build"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const port = process.env.PORT || "3000";
// The server runs in a process group of its own, so a Ctrl-C in the terminal (which signals the whole
// foreground group) reaches it once, through this forwarding, instead of twice — a second signal means
// "exit now" to the server, which would cut the in-flight requests its graceful shutdown lets finish.
// Closing the terminal (SIGHUP) stops it gracefully too.
const child = spawn(process.execPath, [server, "-p", port, ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
  detached: true,
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
process.on("SIGHUP", () => child.kill("SIGTERM"));

// Ask for /healthz once the port is open, so start-up checks (config.yaml, database migrations) run
// now and a bad configuration stops the server at once instead of on the first visitor's request.
(async () => {
  for (let i = 0; i < 120 && child.exitCode === null; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
})();
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
