import { defineConfig } from "vitest/config";
import path from "node:path";

/**
 * The security suite (issue 9): real HTTP (and Chromium where a browser matters) against the built
 * production server (.next/lumen-server.js) on a fresh PostgreSQL database — SECURITY_DATABASE_URL,
 * else TEST_DATABASE_URL. Needs `npm run build` first. See tests/security/global-setup.ts.
 */
export default defineConfig({
  resolve: { alias: { "@": path.resolve(__dirname) } },
  test: {
    include: ["tests/security/**/*.security.test.ts"],
    globalSetup: ["tests/security/global-setup.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    pool: "forks",
  },
});
