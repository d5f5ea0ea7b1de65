import { defineConfig } from "vitest/config";
import path from "node:path";

/**
 * The single sign-on suite (issue 14): a real OpenID Connect provider (the `oidc-provider` package)
 * on loopback, the built production server (.next/lumen-server.js) with development sign-in off, on
 * a fresh PostgreSQL database (SSO_DATABASE_URL, else TEST_DATABASE_URL), driven by Chromium. Needs
 * `npm run build` first. Each file starts its own provider and servers (tests/sso/harness.ts).
 */
export default defineConfig({
  resolve: { alias: { "@": path.resolve(__dirname) } },
  test: {
    include: ["tests/sso/**/*.sso.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: "forks",
  },
});
