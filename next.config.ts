import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // PGlite ships WASM and data files that must be loaded from node_modules, not bundled.
  serverExternalPackages: ["@electric-sql/pglite", "postgres"],
  poweredByHeader: false,
  reactStrictMode: true,
  // forbidden() → a real 403 response rendering app/(console)/forbidden.tsx
  experimental: { authInterrupts: true },
};

export default nextConfig;
