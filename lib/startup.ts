import { ConfigError, getConfig } from "@/lib/config";
import { getDbHandle } from "@/lib/db/client";
import { serverSecret } from "@/lib/secret";
import { log } from "@/lib/log";

/** Server start: a bad config.yaml or an unreachable database stops the process with a clear message. */
export async function startup(): Promise<void> {
  try {
    const config = getConfig();
    serverSecret();
    const handle = await getDbHandle();
    const url = config.app.base_url.replace(/\/$/, "");
    log.info("lumen started", { url, database: handle.kind });
    console.log(`\n  Lumen is running at ${url}\n  Database: ${handle.kind === "pglite" ? "embedded (PGlite)" : "PostgreSQL"}\n`);
    if (config.auth.dev_login) {
      console.warn(
        "  WARNING: the development sign-in is ON (auth.dev_login: true): anyone can sign in as any e-mail.\n" +
          "  Turn it off in config.yaml before exposing Lumen to a network.\n",
      );
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Lumen cannot start: invalid configuration\n${err.message}`);
    } else {
      console.error(`Lumen cannot start: ${err instanceof Error ? err.message : String(err)}`);
    }
    process.exit(1);
  }
}
