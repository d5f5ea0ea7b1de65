import { defineConfig } from "vitest/config";
import path from "node:path";

/** End-to-end suite: a real `next start` (see tests/e2e/global-setup.ts) driven by Debian's Chromium. */
export default defineConfig({
  resolve: { alias: { "@": path.resolve(__dirname) } },
  test: {
    include: ["tests/e2e/**/*.e2e.test.ts"],
    globalSetup: ["tests/e2e/global-setup.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    pool: "forks",
  },
});
