/**
 * The gateway while its PostgreSQL server is unreachable. The gateway's database connections go
 * through a TCP proxy the test can cut (every connection destroyed, new ones refused — what a stopped
 * database looks like to a client); the test's own checks use a direct connection. The gateway is
 * served over real HTTP by the production adapter (lib/gateway/node.ts) and called with `openai`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import OpenAI from "openai";
import { openDatabase, rows, type DbHandle } from "@/lib/db/client";
import { coinPools, coinReservations } from "@/lib/db/schema";
import { parseConfigText } from "@/lib/config/load";
import { accountingTotals } from "@/lib/coins/audit";
import { createGateway, type Gateway } from "@/lib/gateway/pipeline";
import { createServerDatabase } from "../helpers/db";
import { serveGateway } from "../helpers/gateway-rig";
import { insertClient } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";
import { tcpProxy, type TcpProxy } from "../helpers/tcp-proxy";

process.env.LUMEN_SECRET = "db-outage-test-secret-0123456789-abcdef";

const base = process.env.TEST_DATABASE_URL?.trim();
const DB_TIMEOUT_MS = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = parseConfigText(
  `api: {upstream_timeout_s: 20, db_timeout_ms: ${DB_TIMEOUT_MS}}
clients:
  default: {max: 0}
  outage-bot: {max: 100, refresh: 0, starting: 100, model_access: {default: allowed}}
models:
  - name: fast
    input_cost_per_million: 1000
    output_cost_per_million: 2000
    endpoints: [{url: "builtin:echo"}]
  - name: slow
    input_cost_per_million: 1000
    output_cost_per_million: 2000
    endpoints: [{url: "builtin:echo", latency_ms: 900}]
`,
  "config.yaml",
).config;

describe.runIf(Boolean(base))("gateway while the database is away (PostgreSQL through a cuttable proxy)", () => {
  let created: { url: string; drop(): Promise<void> };
  let direct: DbHandle;
  let viaProxy: DbHandle;
  let proxy: TcpProxy;
  let gateway: Gateway;
  let server: Awaited<ReturnType<typeof serveGateway>>;
  let openai: OpenAI;
  let clientId = "";
  let keyHash = "";
  const logged: string[] = [];
  const originals = { warn: console.warn, error: console.error, log: console.log };

  beforeAll(async () => {
    created = await createServerDatabase(base!);
    direct = await openDatabase({ url: created.url });
    const target = new URL(created.url);
    proxy = await tcpProxy(target.hostname, Number(target.port || 5432));
    const proxied = new URL(created.url);
    proxied.hostname = "127.0.0.1";
    proxied.port = String(proxy.port);
    viaProxy = await openDatabase({ url: proxied.toString(), max: 4 });

    const client = await insertClient(direct.db, "outage-bot");
    clientId = client.id;
    const key = await insertKey(direct.db, client.id, "k");
    keyHash = key.hash;

    gateway = createGateway({ getDb: async () => viaProxy.db, getConfig: () => config, keyCache: null, settleMode: "after-answer" });
    server = await serveGateway(gateway);
    openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key.plaintext, maxRetries: 0 });

    for (const level of ["warn", "error", "log"] as const) {
      console[level] = (...args: unknown[]) => {
        logged.push(args.map(String).join(" "));
      };
    }
  });

  afterAll(async () => {
    Object.assign(console, originals);
    gateway?.close();
    await server?.close();
    await viaProxy?.close().catch(() => {});
    await proxy?.close();
    await direct?.close();
    await created?.drop();
  });

  const post = (model: string, headers: Record<string, string> = {}) =>
    fetch(`${openai.baseURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${openai.apiKey}`, "content-type": "application/json", ...headers },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hello there" }], max_tokens: 20 }),
    });

  it("answers 503 service_unavailable with Retry-After within db_timeout_ms, and recovers without a restart", async () => {
    expect((await openai.chat.completions.create({ model: "fast", messages: [{ role: "user", content: "hi" }] })).choices.length).toBe(1);
    proxy.down();
    const started = Date.now();
    const res = await post("fast");
    const elapsed = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const body = (await res.json()) as { error: { type: string; code: string } };
    expect(body.error).toMatchObject({ type: "api_error", code: "service_unavailable" });
    expect(elapsed).toBeLessThan(DB_TIMEOUT_MS + 1_500);

    proxy.up();
    const until = Date.now() + 5_000;
    let status = 0;
    while (Date.now() < until && status !== 200) {
      status = (await post("fast")).status;
      if (status !== 200) await sleep(200);
    }
    expect(status).toBe(200);
  });

  it("bills every answer delivered while the database was away exactly once when it returns", async () => {
    await gateway.idle();
    const before = await accountingTotals(direct.db, clientId);
    // Admitted while the database answers; it goes away while the upstream is working, so each
    // answer leaves with 200 and its settlement must wait for the database.
    const calls = Array.from({ length: 6 }, (_, i) => post("slow", { "x-request-id": `outage-${i}` }));
    const admittedBy = Date.now() + 5_000;
    while (gateway.inFlight < 6 && Date.now() < admittedBy) await sleep(10);
    expect(gateway.inFlight).toBe(6);
    proxy.down();
    const answers = await Promise.all(calls);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await Promise.all(answers.map((r) => r.text()));
    await sleep(1_500);
    proxy.up();
    await gateway.idle();

    const after = await accountingTotals(direct.db, clientId);
    expect(Number(after.requestLog.requests) - Number(before.requestLog.requests)).toBe(6);
    for (const counter of [after.clients, after.apiKeys, after.clientModelUsage, after.clientDailyUsage]) {
      expect(counter).toEqual(after.requestLog);
    }
    const ids = await rows<{ request_id: string }>(
      direct.db,
      sql`select request_id from request_log where client_id = ${clientId} and request_id like 'outage-%' order by request_id`,
    );
    expect(ids.map((r) => r.request_id)).toEqual(["outage-0", "outage-1", "outage-2", "outage-3", "outage-4", "outage-5"]);
    expect(await direct.db.select().from(coinReservations).where(eq(coinReservations.clientId, clientId))).toEqual([]);
    // The real balance: the pool's own plus what the instance's coin lease holds.
    const [pool] = await direct.db.select({ real: sql<string>`(${coinPools.balance} + ${coinPools.leased})::text` }).from(coinPools).where(eq(coinPools.clientId, clientId));
    expect((100 - Number(after.requestLog.coins)).toFixed(6)).toBe(Number(pool!.real).toFixed(6));
  });

  it("logged the outage by error code, without SQL text or the key's hash", () => {
    const text = logged.join("\n");
    expect(text).toMatch(/database unavailable/);
    expect(text).not.toContain(keyHash);
    expect(text.toLowerCase()).not.toContain("select");
    expect(text.toLowerCase()).not.toContain("insert into");
  });
});
