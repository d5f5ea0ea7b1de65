import { defineConfig } from "vitest/config";
import path from "node:path";

/**
 * The fault suite (tests/faults): the built server (.next/lumen-server.js) against a scripted
 * upstream and PostgreSQL (FAULTS_DATABASE_URL, default the local server), with shutdowns, crashes,
 * database outages and config edits. Files run one after another: each starts its own servers, and
 * timing-sensitive scenarios must not compete with each other for the CPU.
 */
export default defineConfig({
  resolve: { alias: { "@": path.resolve(__dirname) } },
  test: {
    include: ["tests/faults/**/*.faults.test.ts"],
    environment: "node",
    testTimeout: 90_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: "forks",
  },
});
