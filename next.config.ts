import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // PGlite ships WASM and data files that must be loaded from node_modules, not bundled.
  serverExternalPackages: ["@electric-sql/pglite", "postgres"],
  poweredByHeader: false,
  reactStrictMode: true,
  // /v1 paths are the gateway's: `/v1/chat/completions/` answers the API's 404 envelope, not a 308
  // (lib/gateway/routes.ts; server.ts answers /v1 without Next, this covers `next dev`).
  skipTrailingSlashRedirect: true,
  // forbidden() → a real 403 response rendering app/(console)/forbidden.tsx
  experimental: { authInterrupts: true },
};

export default nextConfig;
