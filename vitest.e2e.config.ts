import { defineConfig } from "vitest/config";
import path from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The files share one seeded server, and some send /v1 traffic the console's cards then count: run them
 * in name order every time (vitest's default puts a file that failed last time, or a slow one, first).
 */
class ByName extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}

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
    sequence: { sequencer: ByName },
  },
});
