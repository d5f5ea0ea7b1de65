/**
 * A real OpenID Connect provider for the single sign-on suite: the `oidc-provider` package (a
 * certified implementation) on a loopback port, with one registered confidential client and a few
 * accounts. Its built-in development pages are the provider's login (any password) and consent
 * screens. `down()`/`up()` cut it off (a TCP proxy in front: the issuer's port keeps refusing), and
 * an account's claims can be changed between sign-ins (a person removed from a group).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Configuration } from "oidc-provider";
import { tcpProxy, type TcpProxy } from "../helpers/tcp-proxy";

export interface AccountClaims {
  email: string;
  email_verified: boolean;
  name: string;
  groups: string[];
}

export const CLIENT_ID = "lumen-console";
export const CLIENT_SECRET = "sso-suite-client-secret-0123456789abcdef";
export const PROVIDER_NAME = "Example University";

/** The people at the provider; the login name typed on its login page is the account id. */
export function defaultAccounts(): Record<string, AccountClaims> {
  return {
    // An administrator by group (her e-mail is not under admins:).
    ada: { email: "ada@example.org", email_verified: true, name: "Ada Admin", groups: ["staff", "lumen-admins"] },
    // An administrator by e-mail (admins: lists boss@example.org).
    bea: { email: "boss@example.org", email_verified: true, name: "Bea Boss", groups: [] },
    // Manager of one client (seeded), no admin group.
    max: { email: "max@example.org", email_verified: true, name: "Max Manager", groups: ["staff"] },
    // Neither: the "you manage no clients" page.
    pat: { email: "pat@example.org", email_verified: true, name: "Pat Plain", groups: [] },
    // The admins: e-mail, but the provider has not verified it: must not sign in at all.
    mallory: { email: "root@example.org", email_verified: false, name: "Mallory", groups: ["lumen-admins"] },
    // Verified, but outside auth.oidc.allowed_domains.
    olga: { email: "olga@elsewhere.test", email_verified: true, name: "Olga Outsider", groups: [] },
  };
}

export interface TestProvider {
  /** The issuer (the proxy's address: what Lumen and the browser use). */
  issuer: string;
  accounts: Record<string, AccountClaims>;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function startProvider(redirectUris: string[]): Promise<TestProvider> {
  const accounts = defaultAccounts();
  // The provider's own server, and the proxy in front of it whose address is the issuer.
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy: TcpProxy = await tcpProxy("127.0.0.1", (server.address() as AddressInfo).port);
  const issuer = `http://127.0.0.1:${proxy.port}`;
  const configuration: Configuration = {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: redirectUris,
        post_logout_redirect_uris: [],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    async findAccount(_ctx, id) {
      const claims = accounts[id];
      if (!claims) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
    },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name"],
      groups: ["groups"],
    },
    scopes: ["openid", "email", "profile", "groups"],
    pkce: { required: () => true, methods: ["S256"] },
    cookies: { keys: ["sso-suite-cookie-key-0123456789"] },
    features: { devInteractions: { enabled: true } },
    // The provider's own rendering of its errors: plain, so a test can read them.
    async renderError(ctx, out) {
      ctx.type = "text/plain";
      ctx.body = `provider error: ${out.error}: ${out.error_description ?? ""}`;
    },
  };
  const provider = new Provider(issuer, configuration);
  // Quiet: the provider reports refused requests (a replayed code) as events, which the tests check at Lumen.
  provider.on("server_error", (_ctx, err) => console.error("oidc-provider server_error", err));
  server.on("request", provider.callback());
  return {
    issuer,
    accounts,
    down: () => proxy.down(),
    up: () => proxy.up(),
    async close() {
      await proxy.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
