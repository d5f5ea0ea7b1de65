// @ts-check
// Plain JavaScript on purpose: Next loads a next.config.ts through its transpiler at every start of the
// production server, and that step requires the TypeScript compiler to read tsconfig.json — about 0.4 s of
// the start-up (bench:startup profile). The JSDoc type and @ts-check keep the editor's checking.
/** @type {import("next").NextConfig} */
const nextConfig = {
  // PGlite ships WASM and data files that must be loaded from node_modules, not bundled.
  serverExternalPackages: ["@electric-sql/pglite", "postgres", "ioredis", "rate-limiter-flexible", "busboy"],
  poweredByHeader: false,
  // The production server (server.ts) compresses the console's answers itself, with Next's many small
  // writes coalesced per event-loop turn (lib/http/compress.ts); Next's own per-chunk compression cost more
  // than the pages' queries. `next dev` answers uncompressed.
  compress: false,
  reactStrictMode: true,
  // /v1 paths are the gateway's: `/v1/chat/completions/` answers the API's 404 envelope, not a 308
  // (lib/gateway/routes.ts; server.ts answers /v1 without Next, this covers `next dev`).
  skipTrailingSlashRedirect: true,
  // Next rewrites loopback hosts to `localhost` in the URLs it gives middleware and route handlers,
  // and in a middleware redirect to the request's own host: a console on http://127.0.0.1:PORT
  // (app.base_url) then sent browsers to http://localhost:PORT (another origin: no session cookie)
  // and told the identity provider a redirect_uri it did not register. The URLs stay as they are.
  // (The setting's other effect concerns the pages router's /_next/data URLs, which Lumen has none of.)
  skipMiddlewareUrlNormalize: true,
  // forbidden() → a real 403 response rendering app/(console)/forbidden.tsx
  experimental: { authInterrupts: true },
};

export default nextConfig;
