/**
 * The development sign-in (any e-mail, no password) must never be reachable by accident: Lumen
 * refuses to start with it when the server listens on a non-loopback address or `app.base_url` is
 * not a loopback URL, unless LUMEN_ALLOW_DEV_LOGIN=1 says the exposure is deliberate (a demo).
 * A config edit that turns it on later is checked the same way on every sign-in.
 */
import { getConfig, type LumenConfig } from "@/lib/config";
import { isLoopbackHost, isLoopbackUrl } from "@/lib/http/loopback";
import { processState } from "@/lib/process-state";

export const ALLOW_DEV_LOGIN_ENV = "LUMEN_ALLOW_DEV_LOGIN";

/**
 * Why the development sign-in may not be served (a message for the operator), or null when it is
 * off or allowed. `listenHosts`: the addresses the server listens on (undefined: not known, e.g.
 * under `next dev`, where only base_url is checked).
 */
export function devLoginRefusal(
  config: LumenConfig,
  listenHosts: readonly string[] | undefined,
  env: Record<string, string | undefined> = process.env,
): string | null {
  if (!config.auth.dev_login || env[ALLOW_DEV_LOGIN_ENV] === "1") return null;
  const reasons: string[] = [];
  const exposed = (listenHosts ?? []).filter((h) => !isLoopbackHost(h));
  if (exposed.length > 0) reasons.push(`it would listen on ${exposed.join(", ")}, which is not a loopback address`);
  if (!isLoopbackUrl(config.app.base_url)) reasons.push(`app.base_url (${config.app.base_url}) is not a loopback URL`);
  if (reasons.length === 0) return null;
  return [
    `the development sign-in (auth.dev_login: true) lets anyone sign in as any e-mail, administrators included, and ${reasons.join(" and ")}.`,
    "  To serve Lumen on a network, use single sign-on: set auth.dev_login: false and configure auth.oidc",
    "  (issuer, client_id, client_secret or env AUTH_OIDC_CLIENT_SECRET) in config.yaml.",
    "  To try Lumen on this machine, listen on loopback only (no -H / HOST, or -H 127.0.0.1) with a loopback",
    "  app.base_url such as http://localhost:3000.",
    `  For a deliberate demo on a network, set ${ALLOW_DEV_LOGIN_ENV}=1.`,
  ].join("\n");
}

/** Whether the development sign-in may be offered and used right now (live config, this server's addresses). */
export function devLoginUsable(config: LumenConfig = getConfig()): boolean {
  return config.auth.dev_login && devLoginRefusal(config, processState().listenHosts) === null;
}
