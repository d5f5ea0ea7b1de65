/** Runs once when the server process starts: validate config.yaml, open and migrate the database. */
export async function register() {
  // The condition wraps the import (not an early return) so that the edge compilation of this file
  // drops it: the runtime pulls in node-only modules (prom-client needs `cluster`).
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { start } = await import("@/lib/runtime");
    await start();
  }
}
