#!/usr/bin/env node
// `npm run test:e2e`: runs the browser suite against a built app (PGlite; PostgreSQL too when
// E2E_DATABASE_URL is set, as in .ci/run).
import { spawnSync } from "node:child_process";
const r = spawnSync("npx", ["vitest", "run", "--config", "vitest.e2e.config.ts", ...process.argv.slice(2)], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
