/**
 * What a fresh or upgraded install exposes before anyone signs in: the development sign-in is refused
 * on a non-loopback address or public base_url (unless LUMEN_ALLOW_DEV_LOGIN=1), `npm start`'s server
 * listens on loopback only, short secrets stop start-up, and the data folder is private (0700/0600)
 * with today's API keys still valid after the key pepper was split from the session secret.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "@/lib/db/client";
import { apiKeys, clients } from "@/lib/db/schema";
import { generateApiKey } from "@/lib/keys/api-key";
import { freePort } from "../helpers/net";
import { exited, spawnServer, startServer, type RunningServer, type ServerOptions } from "./server";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-startup-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function config(name: string, yaml: string): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, yaml);
  return file;
}

/** Runs the server expecting it to refuse; returns its output. */
async function refusal(opts: Omit<ServerOptions, "logFile" | "dataDir" | "port">): Promise<string> {
  const logFile = path.join(tmp, `refusal-${crypto.randomUUID()}.log`);
  const port = await freePort();
  const child = spawnServer({ ...opts, port, logFile, dataDir: path.join(tmp, "refused-data") });
  const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
  const code = await exited(child);
  clearTimeout(timer);
  expect(code).toBe(1);
  // It never listened.
  expect(await connects("127.0.0.1", port)).toBe(false);
  return fs.readFileSync(logFile, "utf8");
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

describe("the development sign-in is never reachable by accident", () => {
  const devLogin = () => config("dev-login", "auth: {dev_login: true}\nadmins: [admin@example.com]\n");

  it("-H 0.0.0.0 stops start-up with a message that says what to do", async () => {
    const out = await refusal({ configFile: devLogin(), args: ["-H", "0.0.0.0"] });
    expect(out).toContain("Lumen cannot start");
    expect(out).toContain("0.0.0.0, which is not a loopback address");
    expect(out).toContain("auth.oidc");
    expect(out).toContain("LUMEN_ALLOW_DEV_LOGIN=1");
  });

  it("HOST=:: (every IPv6 and IPv4 address) stops start-up", async () => {
    const out = await refusal({ configFile: devLogin(), env: { HOST: "::" } });
    expect(out).toContain("::, which is not a loopback address");
  });

  it("a public app.base_url stops start-up, even on a loopback bind", async () => {
    const file = config("public-url", "app: {base_url: 'https://lumen.example.org'}\nauth: {dev_login: true}\n");
    const out = await refusal({ configFile: file });
    expect(out).toContain("app.base_url (https://lumen.example.org) is not a loopback URL");
  });

  it("LUMEN_ALLOW_DEV_LOGIN=1 allows a deliberate demo on a network", async () => {
    const port = await freePort();
    const server = await startServer({
      port,
      configFile: devLogin(),
      dataDir: path.join(tmp, "demo-data"),
      logFile: path.join(tmp, "demo.log"),
      args: ["-H", "0.0.0.0"],
      env: { LUMEN_ALLOW_DEV_LOGIN: "1" },
    });
    try {
      expect(fs.readFileSync(server.logFile, "utf8")).toContain("demos only");
    } finally {
      await server.stop();
    }
  });

  it("a config edit that turns it on while Lumen listens on a network is refused too", async () => {
    const port = await freePort();
    const file = config("edited", "auth: {dev_login: false}\n");
    const server = await startServer({
      port,
      configFile: file,
      dataDir: path.join(tmp, "edited-data"),
      logFile: path.join(tmp, "edited.log"),
      args: ["-H", "0.0.0.0"],
    });
    try {
      fs.writeFileSync(file, "auth: {dev_login: true}\nadmins: [admin@example.com]\n");
      const deadline = Date.now() + 10_000;
      while (!fs.readFileSync(server.logFile, "utf8").includes("the development sign-in stays off") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(fs.readFileSync(server.logFile, "utf8")).toContain("the development sign-in stays off");
      const page = await (await fetch(`http://127.0.0.1:${port}/signin`)).text();
      expect(page).not.toContain("Development sign-in");
      const csrf = await fetch(`http://127.0.0.1:${port}/api/auth/csrf`);
      const { csrfToken } = (await csrf.json()) as { csrfToken: string };
      const cookie = csrf.headers.getSetCookie().map((c) => c.split(";", 1)[0]).join("; ");
      const res = await fetch(`http://127.0.0.1:${port}/api/auth/callback/dev`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrfToken, email: "admin@example.com", callbackUrl: "/clients" }),
      });
      expect(res.headers.getSetCookie().some((c) => c.startsWith("authjs.session-token="))).toBe(false);
    } finally {
      await server.stop();
    }
  });

  it.each([
    ["LUMEN_SECRET", "short"],
    ["AUTH_SECRET", "x".repeat(31)],
    ["LUMEN_KEY_PEPPER", "too-short-pepper"],
  ])("%s under 32 bytes stops start-up", async (name, value) => {
    const out = await refusal({ configFile: config("plain", "auth: {dev_login: false}\n"), env: { [name]: value, ...(name === "LUMEN_SECRET" ? {} : { LUMEN_SECRET: undefined }) } });
    expect(out).toContain(`${name} is too short: it needs at least 32 bytes`);
  });
});

describe("a fresh `npm start`-style server on the embedded database, upgraded from an older install", () => {
  const dataDir = path.join(tmp, "upgraded");
  const oldSecret = crypto.randomBytes(32).toString("base64url");
  let legacyKey = "";
  let server: RunningServer;
  let port = 0;
  const mode = (p: string) => fs.lstatSync(p).mode & 0o777;
  const loose = () => {
    const found: string[] = [];
    const walk = (p: string) => {
      const st = fs.lstatSync(p);
      if (st.isDirectory()) {
        if (mode(p) !== 0o700) found.push(`${p} ${mode(p).toString(8)}`);
        for (const e of fs.readdirSync(p)) walk(path.join(p, e));
      } else if (mode(p) !== 0o600) found.push(`${p} ${mode(p).toString(8)}`);
    };
    walk(dataDir);
    return found;
  };

  beforeAll(async () => {
    // As an older Lumen left it: an open folder, a world-readable secret, a key hashed with that secret.
    fs.mkdirSync(dataDir, { mode: 0o755 });
    fs.chmodSync(dataDir, 0o755);
    fs.writeFileSync(path.join(dataDir, "secret"), `${oldSecret}\n`);
    fs.chmodSync(path.join(dataDir, "secret"), 0o644);
    const handle = await openDatabase({ pgliteDir: path.join(dataDir, "pgdata") });
    const [client] = await handle.db.insert(clients).values({ name: "legacy-bot" }).returning({ id: clients.id });
    const key = generateApiKey(oldSecret);
    await handle.db.insert(apiKeys).values({ clientId: client!.id, name: "old", keyHash: key.hash, hint: key.hint });
    await handle.close();
    legacyKey = key.plaintext;

    port = await freePort();
    server = await startServer({
      port,
      configFile: config(
        "upgraded",
        `app: {base_url: 'https://localhost:${port}'}\nauth: {dev_login: true}\nclients: {default: {max: -2, model_access: {default: allowed}}}\nmodels: [{name: echo, endpoints: [{url: "builtin:echo"}]}]\n`,
      ),
      dataDir,
      logFile: path.join(tmp, "upgraded.log"),
      env: { LUMEN_SECRET: undefined },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("listens on the loopback addresses only, and http://localhost works", async () => {
    expect(await connects("127.0.0.1", port)).toBe(true);
    expect((await fetch(`http://localhost:${port}/healthz`)).status).toBe(200);
    const ipv6 = await connects("::1", port);
    const exposed = Object.values(os.networkInterfaces())
      .flat()
      .filter((i): i is os.NetworkInterfaceInfo => Boolean(i) && !i!.internal && !i!.address.startsWith("fe80"));
    for (const i of exposed) expect(await connects(i.address, port), i.address).toBe(false);
    console.log(`loopback: 127.0.0.1 and ${ipv6 ? "::1" : "(no IPv6 loopback here)"}; refused on ${exposed.map((i) => i.address).join(", ") || "(no other address)"}`);
  });

  it("makes the data folder 0700 and every file in it 0600, while running", () => {
    expect(mode(dataDir)).toBe(0o700);
    expect(loose()).toEqual([]);
  });

  it("keeps API keys hashed with the old secret valid (the pepper was pinned to it)", async () => {
    expect(fs.readFileSync(path.join(dataDir, "key-pepper"), "utf8").trim()).toBe(oldSecret);
    const res = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${legacyKey}` } });
    expect(res.status).toBe(200);
  });

  it("with an https base_url: HSTS on every page and Secure session cookies", async () => {
    const page = await fetch(`http://127.0.0.1:${port}/signin`);
    expect(page.headers.get("strict-transport-security")).toBe("max-age=31536000");
    const csrf = await fetch(`http://127.0.0.1:${port}/api/auth/csrf`);
    for (const c of csrf.headers.getSetCookie()) expect(c).toMatch(/;\s*Secure/i);
  });

  it("at rest after a graceful stop, every file is still 0600", async () => {
    expect(await server.stop()).toBe(0);
    expect(loose()).toEqual([]);
  });
});
