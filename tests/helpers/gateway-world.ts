/**
 * The world of the gateway suites (gateway-chat, -refusals, -upstream-failures, -accounting): one
 * config with clients in every state (acme with a pool, broke with an empty one, nopool without one,
 * sleepy deactivated), a key each (and a revoked one for acme), on the rig of ./gateway-rig.ts, and
 * the helpers those suites share.
 */
import { beforeAll, expect } from "vitest";
import { desc, eq, sql } from "drizzle-orm";
import type OpenAI from "openai";
import { coinPools, requestLog } from "@/lib/db/schema";
import type { GatewayOptions } from "@/lib/gateway/pipeline";
import type { Backend } from "./backend";
import { insertClient } from "./fixtures";
import { useGatewayRig } from "./gateway-rig";
import { insertKey } from "./keys";
import { sleep } from "./fake-upstream";
import { UPSTREAM_KEY } from "./upstream-api";

export type WorldClient = "acme" | "broke" | "nopool" | "sleepy";

export const gatewayWorldConfig = (up: string, dead: number) => `
app: {base_url: "http://lumen.test"}
admins: [admin@example.com]
api: {require_consent: true, upstream_timeout_s: 1.5}
defaults: {model_access: blocked}
clients:
  default: {max: 0}
  acme: {max: 100, refresh: 0, starting: 100, model_access: {default: allowed, blocked: [secret]}}
  broke: {max: 10, refresh: 1, starting: 0, model_access: {default: allowed}}
  nopool: {model_access: {default: allowed}}
  sleepy: {max: 100, starting: 100, model_access: {default: allowed}}
models:
  - {name: echo, input_cost_per_million: 0.5, output_cost_per_million: 1.0, max_output_tokens: 64, endpoints: [{url: "builtin:echo"}]}
  - {name: org/echo-large, input_cost_per_million: 2, output_cost_per_million: 3, endpoints: [{url: "builtin:echo", latency_ms: 40, chunk_delay_ms: 5}]}
  - {name: secret, endpoints: [{url: "builtin:echo"}]}
  - {name: gated, needs_ack: true, ack_message: "Be careful.", endpoints: [{url: "builtin:echo"}]}
  - {name: off, disabled: true, endpoints: [{url: "builtin:echo"}]}
  - {name: bad/ok, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", api_key: "${UPSTREAM_KEY}", model: ok}]}
  - {name: bad/nousage, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: nousage}]}
  - {name: bad/400, endpoints: [{url: "${up}", api_key: "${UPSTREAM_KEY}", model: fail-400}]}
  - {name: bad/500, endpoints: [{url: "${up}", model: fail-500}]}
  - {name: bad/hang, endpoints: [{url: "${up}", model: hang}]}
  - {name: bad/drop, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: drop}]}
  - {name: bad/stall, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: stall}]}
  - {name: bad/slow, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: slow}]}
  - {name: bad/emb, input_cost_per_million: 1, endpoints: [{url: "${up}", model: emb}]}
  - {name: retry, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: conn-reset}, {url: "${up}", model: ok}]}
  - {name: unlisted, endpoints: [{url: "${up}", model: not-served-here}]}
  - {name: down, endpoints: [{url: "http://127.0.0.1:${dead}/v1"}]}
`;

export interface ApiError {
  message: string;
  type: string;
  param: string | null;
  code: string;
}

/** The world on `backend`, opened before the suite and closed after it. Call it first in the suite. */
export function useGatewayWorld(backend: Backend, gateway?: Partial<GatewayOptions>) {
  const rig = useGatewayRig(backend, { config: gatewayWorldConfig, gateway });
  const ids = {} as Record<WorldClient, string>;
  const keys = {} as Record<WorldClient | "revoked", string>;
  const keyIds = {} as Record<WorldClient, string>;

  beforeAll(async () => {
    for (const name of ["acme", "broke", "nopool", "sleepy"] as const) {
      const c = await insertClient(rig.db, name, { active: name !== "sleepy" });
      ids[name] = c.id;
      const k = await insertKey(rig.db, c.id, "main");
      keys[name] = k.plaintext;
      keyIds[name] = k.row.id;
    }
    keys.revoked = (await insertKey(rig.db, ids.acme, "old", { revokedAt: new Date() })).plaintext;
  });

  const openai = (key = keys.acme): OpenAI => rig.openai(key);

  const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${keys.acme}` }) =>
    fetch(`${rig.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  /** Asserts the OpenAI error envelope: status, code, the four fields, nothing internal in the message. */
  const expectError = async (res: Response, status: number, code: string, param?: string | null): Promise<ApiError> => {
    const json = (await res.json()) as { error: ApiError };
    expect(res.status).toBe(status);
    expect(json.error.code).toBe(code);
    expect(Object.keys(json.error).sort()).toEqual(["code", "message", "param", "type"]);
    if (param !== undefined) expect(json.error.param).toBe(param);
    expect(json.error.message).not.toMatch(/sk_|sk-|at \w+ \(|127\.0\.0\.1|upstream-secret/);
    return json.error;
  };

  const logRows = (clientId: string) =>
    rig.db.select().from(requestLog).where(eq(requestLog.clientId, clientId)).orderBy(desc(requestLog.id));
  const lastLog = async (clientId: string) => (await logRows(clientId))[0];
  const logCount = async (clientId: string) => (await logRows(clientId)).length;
  const balance = async (clientId: string) =>
    (await rig.db.select({ b: sql<string>`(${coinPools.balance} + ${coinPools.leased})::text` }).from(coinPools).where(eq(coinPools.clientId, clientId)))[0]?.b;
  const waitFor = async <T>(fn: () => Promise<T | undefined | null | false>, ms = 5000): Promise<T> => {
    const until = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > until) throw new Error("condition not met in time");
      await sleep(20);
    }
  };

  return { rig, ids, keys, keyIds, openai, post, expectError, logRows, lastLog, logCount, balance, waitFor };
}
