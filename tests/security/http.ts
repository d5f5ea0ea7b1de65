/**
 * Talking to the server as a browser (or an attacker with curl) would: pages with and without a
 * session cookie, and server actions posted exactly as React posts them — the action id from the
 * build's manifest in `Next-Action`, the arguments encoded by React's own `encodeReply`, an `Origin`.
 */
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import postgres from "postgres";
import { inject } from "vitest";
import type { SignedInActor } from "./seed";
import { ACTORS } from "./seed";

const require = createRequire(import.meta.url);
const flight = require("next/dist/compiled/react-server-dom-webpack/client.node") as {
  encodeReply(value: unknown): Promise<string | FormData>;
};

export const baseURL = () => inject("baseURL");
export const seed = () => inject("seed");

export const SESSION_COOKIE = "authjs.session-token";

/** A signed-in browser: its session cookie. */
export interface Browser {
  email: string;
  cookie: string;
}

/** `name=value` of each Set-Cookie, by name. */
export function setCookies(res: Response): Map<string, { pair: string; raw: string }> {
  const out = new Map<string, { pair: string; raw: string }>();
  for (const raw of res.headers.getSetCookie()) {
    const pair = raw.split(";", 1)[0]!;
    out.set(pair.slice(0, pair.indexOf("=")), { pair, raw });
  }
  return out;
}

export function get(pathname: string, browser?: Browser | null, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${baseURL()}${pathname}`, {
    redirect: "manual",
    headers: { ...(browser ? { cookie: browser.cookie } : {}), ...headers },
  });
}

// ---------------------------------------------------------------------------
// Server actions
// ---------------------------------------------------------------------------

interface ManifestEntry {
  workers: Record<string, unknown>;
  exportedName: string;
}

let manifest: Map<string, { id: string; page: string }> | undefined;

/** Action name → its id and a page that serves it (from .next/server/server-reference-manifest.json). */
function actions(): Map<string, { id: string; page: string }> {
  if (manifest) return manifest;
  const raw = require(path.join(process.cwd(), ".next/server/server-reference-manifest.json")) as { node: Record<string, ManifestEntry> };
  manifest = new Map();
  for (const [id, entry] of Object.entries(raw.node)) {
    const worker = Object.keys(entry.workers)[0]!;
    manifest.set(entry.exportedName, { id, page: worker });
  }
  return manifest;
}

/** The URL path a worker page answers (`app/(console)/clients/[id]/page` → /clients/<clientId>). */
function pagePath(worker: string, clientId: string): string {
  if (worker.includes("clients/[id]")) return `/clients/${clientId}`;
  if (worker.includes("clients")) return "/clients";
  if (worker.includes("signin")) return "/signin";
  throw new Error(`no page known for ${worker}`);
}

export function form(fields: Record<string, string>): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.set(k, v);
  return fd;
}

export interface ActionAnswer {
  status: number;
  /** Where the action sent the browser (x-action-redirect, or a Location). */
  redirect: string | null;
  text: string;
  /** The action's return value, when it returned one that decodes. */
  result: unknown;
}

/**
 * Posts a server action as the browser does. `page`: the page it is posted to (defaults to one that
 * serves it; for client pages, the page of `clientId`); `origin`: the Origin header (default: the
 * server's own).
 */
export async function action(
  name: string,
  args: unknown[],
  opts: {
    browser?: Browser | null;
    clientId?: string;
    page?: string;
    origin?: string;
    headers?: Record<string, string>;
    /** Send the body as a slow client does: the first half, a pause, then the rest. */
    slowBody?: { pauseMs: number };
  } = {},
): Promise<ActionAnswer> {
  const found = actions().get(name);
  if (!found) throw new Error(`unknown server action ${name}`);
  const body = await flight.encodeReply(args);
  const headers: Record<string, string> = {
    "next-action": found.id,
    accept: "text/x-component",
    origin: opts.origin ?? baseURL(),
    ...(typeof body === "string" ? { "content-type": "text/plain;charset=UTF-8" } : {}),
    ...(opts.browser ? { cookie: opts.browser.cookie } : {}),
    ...opts.headers,
  };
  const target = opts.page ?? pagePath(found.page, opts.clientId ?? seed().clients.alpha);
  const res = opts.slowBody
    ? await postInTwoParts(`${baseURL()}${target}`, headers, body, opts.slowBody.pauseMs)
    : await fetch(`${baseURL()}${target}`, { method: "POST", redirect: "manual", headers, body });
  const redirect = res.headers.get("x-action-redirect")?.replace(/;(push|replace)$/, "") ?? res.headers.get("location");
  const text = await res.text();
  const result = (res.headers.get("content-type") ?? "").includes("text/x-component") ? actionResult(text) : undefined;
  return { status: res.status, redirect, text, result };
}

/**
 * POST a body in two writes with a pause between them (a slow network), over node:http so the pause
 * really reaches the server; answers as fetch would, redirects not followed.
 */
async function postInTwoParts(url: string, headers: Record<string, string>, body: string | FormData, pauseMs: number): Promise<Response> {
  const encoded = new Request(url, { method: "POST", body });
  const bytes = Buffer.from(await encoded.arrayBuffer());
  const all = { ...headers, "content-type": encoded.headers.get("content-type") ?? "text/plain", "content-length": String(bytes.length) };
  return new Promise<Response>((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const answerHeaders = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          for (const value of Array.isArray(v) ? v : v === undefined ? [] : [v]) answerHeaders.append(k, value);
        }
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks);
        resolve(new Response(status === 204 || status === 304 ? null : text, { status, headers: answerHeaders }));
      });
    });
    req.on("error", reject);
    const half = Math.floor(bytes.length / 2);
    req.write(bytes.subarray(0, half));
    setTimeout(() => req.end(bytes.subarray(half)), pauseMs);
  });
}

/**
 * The action's return value in a Flight answer: row 0 names it (`"a":"$@<row>"`), and that row holds
 * it as JSON. (The rest of an answer that re-renders the page references client modules, which this
 * reader does not need to load.)
 */
export function actionResult(text: string): unknown {
  const rows = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) rows.set(line.slice(0, colon), line.slice(colon + 1));
  }
  try {
    const root = JSON.parse(rows.get("0") ?? "null") as { a?: unknown } | null;
    const ref = typeof root?.a === "string" ? /^\$@([0-9a-f]+)$/.exec(root.a)?.[1] : undefined;
    if (!ref) return root?.a;
    return JSON.parse(rows.get(ref) ?? "null");
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Signing in
// ---------------------------------------------------------------------------

/** Signs in through the development sign-in form's server action, as the sign-in page does. */
export async function signIn(email: string, callbackUrl = "/clients"): Promise<Browser & { answer: ActionAnswer; setCookie: string }> {
  const found = actions().get("devSignIn")!;
  const body = await flight.encodeReply([{}, form({ email, name: "", callbackUrl })]);
  const res = await fetch(`${baseURL()}/signin`, {
    method: "POST",
    redirect: "manual",
    headers: { "next-action": found.id, accept: "text/x-component", origin: baseURL() },
    body,
  });
  const session = setCookies(res).get(SESSION_COOKIE);
  const answer: ActionAnswer = {
    status: res.status,
    redirect: res.headers.get("x-action-redirect")?.replace(/;(push|replace)$/, "") ?? null,
    text: await res.text(),
    result: undefined,
  };
  if (!session) throw new Error(`sign-in as ${email} set no session cookie (status ${res.status})`);
  return { email, cookie: session.pair, answer, setCookie: session.raw };
}

const signedIn = new Map<string, Browser>();

/** One session per actor for the whole file (actors that end sessions use their own e-mails). */
export async function as(actor: SignedInActor | "signedOut"): Promise<Browser | null> {
  if (actor === "signedOut") return null;
  let b = signedIn.get(actor);
  if (!b) {
    b = await signIn(ACTORS[actor]);
    signedIn.set(actor, b);
  }
  return b;
}

// ---------------------------------------------------------------------------
// The database, to prove that a refused action changed nothing
// ---------------------------------------------------------------------------

export function sql() {
  return postgres(inject("databaseUrl"), { max: 1, onnotice: () => {} });
}

/** Everything an action of the console could change, as one comparable text. */
export async function snapshot(): Promise<string> {
  const db = sql();
  try {
    const [row] = await db`
      select
        (select coalesce(string_agg(id || ':' || name || ':' || active || ':' || manager_count, ',' order by id), '') from clients) as clients,
        (select coalesce(string_agg(client_id || ':' || user_id, ',' order by client_id, user_id), '') from client_managers) as managers,
        (select coalesce(string_agg(id || ':' || coalesce(revoked_at::text, '-') || ':' || key_hash || ':' || coalesce(expires_at::text, '-'), ',' order by id), '') from api_keys) as keys,
        (select coalesce(string_agg(key_id || ':' || key_hash || ':' || valid_until::text, ',' order by id), '') from api_key_retired_secrets) as retired,
        (select count(*) from audit_events) as audit,
        (select coalesce(string_agg(client_id || ':' || model, ',' order by client_id, model), '') from consents) as consents,
        (select count(*) from users) as users`;
    return JSON.stringify(row);
  } finally {
    await db.end();
  }
}
