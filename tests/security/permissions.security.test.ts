/**
 * The permission matrix (SPEC §2) over real HTTP: five actors — an admin, the manager of this client,
 * the manager of another client, a signed-in user who manages nothing, and a signed-out visitor —
 * against every console page and every server action, the actions posted the way a browser posts
 * them and also with other clients' ids. A refused action changes nothing in the database, and answers
 * the way the console maps domain errors (lib/forms/run-form-action.ts): forbidden → the 403 page,
 * not found → the 404 page, invalid → the form's errors; a signed-out visitor goes to sign-in.
 */
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { action, as, baseURL, form, get, seed, snapshot, sql, type ActionAnswer } from "./http";
import type { SignedInActor } from "./seed";

type Actor = SignedInActor | "signedOut";
const ACTOR_LIST: Actor[] = ["admin", "managerA", "managerB", "plain", "signedOut"];

type PageOutcome = 200 | 403 | 404 | "signin" | "to-clients";

async function outcome(res: Response): Promise<PageOutcome | number> {
  if (res.status === 307 || res.status === 308 || res.status === 303 || res.status === 302) {
    const location = res.headers.get("location") ?? "";
    const u = new URL(location, "http://x");
    if (u.pathname === "/signin") return "signin";
    if (u.pathname === "/clients") return "to-clients";
    return res.status;
  }
  return res.status;
}

describe("pages", () => {
  const s = () => seed();
  const pages: Array<{ path: () => string; expect: Record<Actor, PageOutcome> }> = [
    { path: () => "/clients", expect: { admin: 200, managerA: 200, managerB: 200, plain: 403, signedOut: "signin" } },
    {
      path: () => "/clients?sort=requests&order=asc&q=bot&page=2",
      expect: { admin: 200, managerA: 200, managerB: 200, plain: 403, signedOut: "signin" },
    },
    { path: () => `/clients/${s().clients.alpha}`, expect: { admin: 200, managerA: 200, managerB: 404, plain: 404, signedOut: "signin" } },
    { path: () => `/clients/${s().clients.beta}`, expect: { admin: 200, managerA: 404, managerB: 200, plain: 404, signedOut: "signin" } },
    { path: () => `/clients/${randomUUID()}`, expect: { admin: 404, managerA: 404, managerB: 404, plain: 404, signedOut: "signin" } },
    { path: () => "/clients/not-a-uuid", expect: { admin: 404, managerA: 404, managerB: 404, plain: 404, signedOut: "signin" } },
    // The CSV exports (issue 11) are authorized like the page they belong to.
    {
      path: () => `/clients/${s().clients.alpha}/export/usage.csv?from=2026-01-01&to=2026-01-31`,
      expect: { admin: 200, managerA: 200, managerB: 404, plain: 404, signedOut: "signin" },
    },
    {
      path: () => `/clients/${s().clients.beta}/export/requests.csv?from=2026-01-01&to=2026-01-31`,
      expect: { admin: 200, managerA: 404, managerB: 200, plain: 404, signedOut: "signin" },
    },
    {
      path: () => `/clients/${randomUUID()}/export/requests.csv?from=2026-01-01&to=2026-01-31`,
      expect: { admin: 404, managerA: 404, managerB: 404, plain: 404, signedOut: "signin" },
    },
    { path: () => "/", expect: { admin: "to-clients", managerA: "to-clients", managerB: "to-clients", plain: "to-clients", signedOut: "to-clients" } },
    { path: () => "/signin", expect: { admin: "to-clients", managerA: "to-clients", managerB: "to-clients", plain: "to-clients", signedOut: 200 } },
  ];

  for (const page of pages) {
    for (const actor of ACTOR_LIST) {
      it(`${actor} → ${page.path().replace(/[0-9a-f-]{36}/, "<id>")}: ${page.expect[actor]}`, async () => {
        const path = page.path();
        const res = await get(path, await as(actor));
        expect(await outcome(res)).toBe(page.expect[actor]);
        // A signed-out visitor is brought back to where they were going.
        if (page.expect[actor] === "signin") {
          expect(new URL(res.headers.get("location")!, "http://x").searchParams.get("callbackUrl")).toBe(path);
        }
      });
    }
  }

  it("each actor's list shows exactly the clients they may see", async () => {
    const names = async (actor: SignedInActor) => {
      const html = await (await get("/clients", await as(actor))).text();
      return ["alpha-bot", "beta-bot"].filter((n) => html.includes(`>${n}<`));
    };
    expect(await names("admin")).toEqual(["alpha-bot", "beta-bot"]);
    expect(await names("managerA")).toEqual(["alpha-bot"]);
    expect(await names("managerB")).toEqual(["beta-bot"]);
  });

  it("no page shows an API key or its hash", async () => {
    const { keys, clients } = seed();
    for (const actor of ["admin", "managerA"] as const) {
      const html = await (await get(`/clients/${clients.alpha}`, await as(actor))).text();
      expect(html).not.toContain(keys.alpha.plaintext);
      expect(html).not.toContain(keys.alpha.hash);
      expect(html).toContain(`sk_${keys.alpha.plaintext.slice(3, 7)}`); // the hint is shown
    }
  });
});

// ---------------------------------------------------------------------------
// Server actions
// ---------------------------------------------------------------------------

/**
 * How an action refused: sent to sign-in before it ran (middleware), the forbidden or not-found page
 * (Next's 403/404 answer to a server action, which the browser renders as that page), the form's
 * errors, or an empty list (the user search). Null: it did not refuse.
 */
/** The sign-in page on this origin (the middleware's redirect is absolute, on app.base_url). */
function isSignInPage(location: string): boolean {
  const url = new URL(location, baseURL());
  return url.origin === new URL(baseURL()).origin && url.pathname === "/signin";
}

type Refusal = "signin" | "forbidden" | "not-found" | "invalid" | "empty";

function refusal(answer: ActionAnswer): Refusal | null {
  if (answer.status === 307 && answer.redirect && isSignInPage(answer.redirect)) return "signin";
  if (answer.status === 403 && answer.text.includes("NEXT_HTTP_ERROR_FALLBACK;403")) return "forbidden";
  if (answer.status === 404 && answer.text.includes("NEXT_HTTP_ERROR_FALLBACK;404")) return "not-found";
  if (answer.status !== 200) return null;
  const r = answer.result as Record<string, unknown> | unknown[] | undefined;
  if (Array.isArray(r)) return r.length === 0 ? "empty" : null;
  if (r && typeof r === "object" && r.ok === false && r.errors && typeof r.errors === "object") return "invalid";
  return null;
}

async function expectRefusedAndUnchanged(how: Refusal, run: () => Promise<ActionAnswer>) {
  const before = await snapshot();
  const answer = await run();
  expect(refusal(answer), `answer ${answer.status} ${JSON.stringify(answer.result) ?? answer.text.slice(0, 200)}`).toBe(how);
  expect(answer.text).not.toMatch(/Failed query|params:|at .*\.js:\d+/);
  expect(await snapshot()).toBe(before);
}

async function one<T>(query: (db: ReturnType<typeof sql>) => Promise<T>): Promise<T> {
  const db = sql();
  try {
    return await query(db);
  } finally {
    await db.end();
  }
}

interface ActionCase {
  name: string;
  /** Who may do it on alpha-bot. */
  allowed: SignedInActor[];
  /** How it refuses the other signed-in actors (default: the forbidden page). */
  refusedAs?: Refusal;
  /** Posts it on alpha-bot as `actor`. */
  run(actor: Actor): Promise<ActionAnswer>;
  /** After an allowed run: checks the effect and puts things back. */
  effect(answer: ActionAnswer): Promise<void>;
}

/** A key of the client made for one allowed run (removed by the case's effect). */
async function spareKey(clientId: string): Promise<string> {
  return one(async (db) => (await db`insert into api_keys (client_id, name, key_hash, hint) values (${clientId}, ${`spare-${randomUUID()}`}, ${randomUUID()}, 'sk_x…y') returning id`)[0]!.id as string);
}

/** Gives the key an old secret in its grace (as a rotation would), unless it has one. */
async function inGrace(keyId: string): Promise<void> {
  await one(
    (db) => db`insert into api_key_retired_secrets (key_id, key_hash, hint, valid_until)
               select ${keyId}, ${randomUUID()}, 'sk_o…ld', now() + interval '1 day'
               where not exists (select 1 from api_key_retired_secrets where key_id = ${keyId} and valid_until > now())`,
  );
}

// The seeded keys each have an old secret in its grace, so a refused "End grace now" would have had
// something to change (the snapshot would show it).
beforeAll(async () => {
  await inGrace(seed().keys.alpha.id);
  await inGrace(seed().keys.beta.id);
});

const cases = (): ActionCase[] => {
  const { clients, users, keys } = seed();
  const A = clients.alpha;
  return [
    {
      name: "createClientAction",
      allowed: ["admin"],
      run: async (actor) => action("createClientAction", [{}, form({ name: `made-by-${actor}` })], { browser: await as(actor) }),
      async effect(answer) {
        expect(answer.redirect).toMatch(/^\/clients\/[0-9a-f-]{36}\?created=1/);
        await one((db) => db`delete from clients where name like 'made-by-%'`);
      },
    },
    {
      name: "setActiveAction",
      allowed: ["admin"],
      run: async (actor) => action("setActiveAction", [{}, form({ clientId: A, active: "false" })], { browser: await as(actor) }),
      async effect(answer) {
        expect(answer.result).toEqual({ ok: true });
        await one((db) => db`update clients set active = true, deactivated_at = null where id = ${A}`);
      },
    },
    {
      name: "addManagerAction",
      allowed: ["admin"],
      run: async (actor) => action("addManagerAction", [{}, form({ clientId: A, userId: users.plain })], { browser: await as(actor) }),
      async effect(answer) {
        expect(answer.result).toEqual({ ok: true });
        const back = await action("removeManagerAction", [{}, form({ clientId: A, userId: users.plain })], { browser: await as("admin") });
        expect(back.result).toEqual({ ok: true });
      },
    },
    {
      name: "removeManagerAction",
      allowed: ["admin"],
      run: async (actor) => action("removeManagerAction", [{}, form({ clientId: A, userId: users.managerA })], { browser: await as(actor) }),
      async effect(answer) {
        expect(answer.result).toEqual({ ok: true });
        const back = await action("addManagerAction", [{}, form({ clientId: A, userId: users.managerA })], { browser: await as("admin") });
        expect(back.result).toEqual({ ok: true });
      },
    },
    {
      name: "searchUsersAction",
      allowed: ["admin"],
      refusedAs: "empty",
      run: async (actor) => action("searchUsersAction", [A, "example"], { browser: await as(actor) }),
      async effect(answer) {
        expect(Array.isArray(answer.result) && answer.result.length > 0).toBe(true);
      },
    },
    {
      name: "createApiKeyAction",
      allowed: ["admin", "managerA"],
      run: async (actor) => action("createApiKeyAction", [{}, form({ clientId: A, name: `key-of-${actor}` })], { browser: await as(actor) }),
      async effect(answer) {
        expect(answer.text).toMatch(/sk_[A-Za-z0-9_-]{43}/);
        await one((db) => db`delete from api_keys where name like 'key-of-%'`);
      },
    },
    {
      name: "revokeApiKeyAction",
      allowed: ["admin", "managerA"],
      async run(actor) {
        // Allowed actors revoke a key made for the purpose; the others try the client's real key.
        const keyId = this.allowed.includes(actor as SignedInActor)
          ? await one(async (db) => (await db`insert into api_keys (client_id, name, key_hash, hint) values (${A}, ${`spare-${randomUUID()}`}, ${randomUUID()}, 'sk_x…y') returning id`)[0]!.id as string)
          : keys.alpha.id;
        return action("revokeApiKeyAction", [{}, form({ clientId: A, keyId })], { browser: await as(actor) });
      },
      async effect(answer) {
        expect(answer.result).toEqual({ ok: true });
        await one((db) => db`delete from api_keys where name like 'spare-%'`);
      },
    },
    {
      name: "rotateApiKeyAction",
      allowed: ["admin", "managerA"],
      async run(actor) {
        const keyId = this.allowed.includes(actor as SignedInActor) ? await spareKey(A) : keys.alpha.id;
        return action("rotateApiKeyAction", [{}, form({ clientId: A, keyId, grace: "1h" })], { browser: await as(actor) });
      },
      async effect(answer) {
        expect(answer.text).toMatch(/sk_[A-Za-z0-9_-]{43}/);
        await one((db) => db`delete from api_keys where name like 'spare-%'`);
      },
    },
    {
      name: "endKeyGraceAction",
      allowed: ["admin", "managerA"],
      async run(actor) {
        // The allowed end a spare key's grace; the others reach for the real key's (given one in beforeAll).
        const keyId = this.allowed.includes(actor as SignedInActor) ? await spareKey(A) : keys.alpha.id;
        if (keyId !== keys.alpha.id) await inGrace(keyId);
        return action("endKeyGraceAction", [{}, form({ clientId: A, keyId })], { browser: await as(actor) });
      },
      async effect(answer) {
        expect(answer.result).toEqual({ ok: true });
        await one((db) => db`delete from api_keys where name like 'spare-%'`);
      },
    },
    {
      name: "grantConsentAction",
      allowed: ["admin", "managerA"],
      run: async (actor) => action("grantConsentAction", [{}, form({ clientId: A, model: "secure-llm" })], { browser: await as(actor) }),
      async effect(answer) {
        expect(answer.result).toEqual({ ok: true });
        await one((db) => db`delete from consents where client_id = ${A}`);
      },
    },
  ];
};

describe("server actions, posted as a browser posts them", () => {
  for (const name of [
    "createClientAction",
    "setActiveAction",
    "addManagerAction",
    "removeManagerAction",
    "searchUsersAction",
    "createApiKeyAction",
    "revokeApiKeyAction",
    "rotateApiKeyAction",
    "endKeyGraceAction",
    "grantConsentAction",
  ]) {
    for (const actor of ACTOR_LIST) {
      it(`${name} on alpha-bot as ${actor}`, async () => {
        const c = cases().find((x) => x.name === name)!;
        if (c.allowed.includes(actor as SignedInActor)) {
          const answer = await c.run(actor);
          expect(answer.status === 200 || answer.status === 303, `status ${answer.status}`).toBe(true);
          await c.effect(answer);
        } else {
          await expectRefusedAndUnchanged(actor === "signedOut" ? "signin" : (c.refusedAs ?? "forbidden"), () => c.run(actor));
        }
      });
    }
  }
});

describe("other clients' ids (IDOR): the manager of alpha-bot reaching for beta-bot", () => {
  const s = () => seed();
  const managerA = () => as("managerA");
  // Reaching into beta-bot meets its door (forbidden); a beta-bot key named under alpha-bot is not there (not found).
  const attempts: Array<[Refusal, string, () => Promise<ActionAnswer>]> = [
    ["forbidden", "create a key for beta-bot", async () => action("createApiKeyAction", [{}, form({ clientId: s().clients.beta, name: "stolen" })], { browser: await managerA(), clientId: s().clients.beta })],
    ["forbidden", "revoke beta-bot's key under beta-bot", async () => action("revokeApiKeyAction", [{}, form({ clientId: s().clients.beta, keyId: s().keys.beta.id })], { browser: await managerA(), clientId: s().clients.beta })],
    ["not-found", "revoke beta-bot's key under alpha-bot", async () => action("revokeApiKeyAction", [{}, form({ clientId: s().clients.alpha, keyId: s().keys.beta.id })], { browser: await managerA() })],
    ["forbidden", "rotate beta-bot's key under beta-bot", async () => action("rotateApiKeyAction", [{}, form({ clientId: s().clients.beta, keyId: s().keys.beta.id, grace: "now" })], { browser: await managerA(), clientId: s().clients.beta })],
    ["not-found", "rotate beta-bot's key under alpha-bot", async () => action("rotateApiKeyAction", [{}, form({ clientId: s().clients.alpha, keyId: s().keys.beta.id, grace: "now" })], { browser: await managerA() })],
    ["forbidden", "end the grace of beta-bot's key under beta-bot", async () => action("endKeyGraceAction", [{}, form({ clientId: s().clients.beta, keyId: s().keys.beta.id })], { browser: await managerA(), clientId: s().clients.beta })],
    ["not-found", "end the grace of beta-bot's key under alpha-bot", async () => action("endKeyGraceAction", [{}, form({ clientId: s().clients.alpha, keyId: s().keys.beta.id })], { browser: await managerA() })],
    ["forbidden", "grant consent for beta-bot", async () => action("grantConsentAction", [{}, form({ clientId: s().clients.beta, model: "secure-llm" })], { browser: await managerA(), clientId: s().clients.beta })],
    ["forbidden", "deactivate beta-bot", async () => action("setActiveAction", [{}, form({ clientId: s().clients.beta, active: "false" })], { browser: await managerA(), clientId: s().clients.beta })],
    ["forbidden", "remove beta-bot's manager", async () => action("removeManagerAction", [{}, form({ clientId: s().clients.beta, userId: s().users.managerB })], { browser: await managerA(), clientId: s().clients.beta })],
    ["forbidden", "add themself to beta-bot", async () => action("addManagerAction", [{}, form({ clientId: s().clients.beta, userId: s().users.managerA })], { browser: await managerA(), clientId: s().clients.beta })],
    ["empty", "search users for beta-bot", async () => action("searchUsersAction", [s().clients.beta, "example"], { browser: await managerA(), clientId: s().clients.beta })],
  ];
  for (const [how, what, run] of attempts) {
    it(`cannot ${what} (${how})`, async () => {
      await expectRefusedAndUnchanged(how, run);
    });
  }

  it.each<[string, { clientId: string; keyId: string }, Refusal]>([
    ["a malformed client id", { clientId: "../../etc/passwd", keyId: randomUUID() }, "not-found"],
    ["SQL in the ids", { clientId: "' or 1=1 --", keyId: "1; drop table api_keys" }, "not-found"],
    ["an unknown key id", { clientId: "<alpha>", keyId: randomUUID() }, "not-found"],
    // Not an id our form could have sent: refused before any lookup, as a request not understood.
    ["an oversized id", { clientId: "x".repeat(10_000), keyId: "y".repeat(10_000) }, "invalid"],
  ])("%s is a clear refusal, not a 500", async (_what, ids, how) => {
    const fields = { ...ids, clientId: ids.clientId === "<alpha>" ? seed().clients.alpha : ids.clientId };
    await expectRefusedAndUnchanged(how, async () => action("revokeApiKeyAction", [{}, form(fields)], { browser: await managerA() }));
  });
});

describe("injection through forms", () => {
  it("a client name that would inject YAML into config.yaml is refused with the reason next to the field", async () => {
    const before = await snapshot();
    const answer = await action("createClientAction", [{}, form({ name: "x: 1\nadmins: [pat@example.com]" })], { browser: await as("admin") });
    expect((answer.result as { errors?: { name?: string[] } }).errors?.name?.length).toBeGreaterThan(0);
    expect(await snapshot()).toBe(before);
  });

  it("a key name with markup is stored as text and shown escaped", async () => {
    const name = `<img src=x onerror="window.__pwned=1">`;
    const answer = await action("createApiKeyAction", [{}, form({ clientId: seed().clients.alpha, name })], { browser: await as("managerA") });
    expect(answer.text).toMatch(/sk_[A-Za-z0-9_-]{43}/);
    const html = await (await get(`/clients/${seed().clients.alpha}`, await as("managerA"))).text();
    expect(html).not.toContain(name);
    expect(html).toContain("&lt;img src=x");
    await one((db) => db`delete from api_keys where name = ${name}`);
  });
});

