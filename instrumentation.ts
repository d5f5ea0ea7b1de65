/** Runs once when the server process starts: validate config.yaml, open and migrate the database. */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { start } = await import("@/lib/runtime");
  await start();
}
