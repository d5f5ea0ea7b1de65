/**
 * Loopback addresses and URLs: where the development sign-in may be served (lib/auth/dev-login.ts)
 * and what `npm start` binds by default (server.ts).
 */
import net from "node:net";

/** The addresses `npm start` listens on when no -H / HOST is given: both loopbacks, so `localhost` works whichever one a browser tries first. */
export const DEFAULT_LISTEN_HOSTS = ["127.0.0.1", "::1"] as const;

const loopbacks = new net.BlockList();
loopbacks.addSubnet("127.0.0.0", 8, "ipv4");
loopbacks.addAddress("::1", "ipv6");
loopbacks.addSubnet("::ffff:127.0.0.0", 104, "ipv6");

/** Whether a host name or address only ever reaches this machine (`localhost`, 127.0.0.0/8, ::1). */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const family = net.isIP(h);
  if (family === 4) return loopbacks.check(h, "ipv4");
  if (family === 6) return loopbacks.check(h, "ipv6");
  return false;
}

/** Whether a URL's host is a loopback host (false for anything that does not parse). */
export function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}
