/**
 * The console and the API must agree on what a client may call. Every access case of SPEC §6–7 (the
 * seven steps, consent, the legacy vocabulary, disabled models, pools that are missing, blocked or
 * unlimited), under api.require_consent true and false, is run through the detail page's data
 * (`clientModelAccess`, which the Model access section and the Connect snippet render) and through
 * the API over HTTP with the `openai` client (GET /v1/models and a chat call per model).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { clientModelAccess } from "@/lib/access/client-models";
import { apiMayUse } from "@/lib/access/resolve";
import { parseConfigText } from "@/lib/config/load";
import type { LumenConfig } from "@/lib/config/schema";
import { consents } from "@/lib/db/schema";
import type { Db } from "@/lib/db/client";
import { createGateway } from "@/lib/gateway/pipeline";
import { backends, useBackend } from "../helpers/backend";
import { serveGateway } from "../helpers/gateway-rig";
import { insertClient } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "access-agreement-secret-0123456789-abcdef";

const CLIENTS = {
  "own-lists": "{max: 10, model_access: {allowed: [m-plain, m-disabled, m-closed], blocked: [m-open]}}",
  "in-group": "{max: 10, groups: [g-allow]}",
  "group-block-wins": "{max: 10, groups: [g-allow, g-block]}",
  "group-default-blocked": "{max: 10, groups: [g-def-blocked], model_access: {default: allowed}}",
  "own-default": "{max: 10, model_access: {default: allowed}}",
  "global-default": "{max: 10}",
  consented: "{max: 10, model_access: {default: allowed}}",
  "no-pool": "{model_access: {default: allowed}}",
  frozen: "{max: 0, model_access: {default: allowed}}",
  unlimited: "{max: -2, model_access: {default: allowed}}",
} as const;
type ClientName = keyof typeof CLIENTS;
const MODELS = ["m-plain", "m-open", "m-closed", "m-group", "m-ack", "m-legacy", "m-disabled"] as const;

function configText(requireConsent: boolean): string {
  const clients = Object.entries(CLIENTS).map(([name, entry]) => `  ${name}: ${entry}`).join("\n");
  return `api: {require_consent: ${requireConsent}}
defaults: {model_access: blocked}
groups:
  g-allow: {model_access: {allowed: [m-group], default: allowed}}
  g-block: {model_access: {blocked: [m-group]}}
  g-def-blocked: {model_access: {default: blocked}}
clients:
  default: {max: 0}
${clients}
models:
  - {name: m-plain, endpoints: [{url: "builtin:echo"}]}
  - {name: m-open, access: allowed, endpoints: [{url: "builtin:echo"}]}
  - {name: m-closed, access: blocked, endpoints: [{url: "builtin:echo"}]}
  - {name: m-group, endpoints: [{url: "builtin:echo"}]}
  - {name: m-ack, access: allowed, needs_ack: true, endpoints: [{url: "builtin:echo"}]}
  - {name: m-legacy, access: graylist, endpoints: [{url: "builtin:echo"}]}
  - {name: m-disabled, access: allowed, disabled: true, endpoints: [{url: "builtin:echo"}]}
`;
}

describe.each(backends())("console and API agree on model access ($name)", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  let config: LumenConfig;
  let server: Awaited<ReturnType<typeof serveGateway>>;
  let baseURL = "";
  const clients = {} as Record<ClientName, { id: string; key: string }>;

  beforeAll(async () => {
    for (const name of Object.keys(CLIENTS) as ClientName[]) {
      const row = await insertClient(db, name);
      clients[name] = { id: row.id, key: (await insertKey(db, row.id, "k")).plaintext };
    }
    await db.insert(consents).values([
      { clientId: clients.consented.id, model: "m-ack" },
      { clientId: clients.consented.id, model: "m-legacy" },
    ]);
    const gateway = createGateway({ getDb: async () => db, getConfig: () => config, keyCache: null });
    server = await serveGateway(gateway);
    baseURL = `${server.url}/v1`;
  });

  afterAll(async () => {
    await server?.close();
  });

  for (const requireConsent of [true, false]) {
    it(`every client × model, api.require_consent: ${requireConsent}`, async () => {
      config = parseConfigText(configText(requireConsent), "config.yaml").config;
      const mismatches: string[] = [];
      let usableSeen = 0;
      for (const name of Object.keys(CLIENTS) as ClientName[]) {
        const { id, key } = clients[name];
        const page = await clientModelAccess(db, config, { id, name });
        const openai = new OpenAI({ baseURL, apiKey: key, maxRetries: 0 });
        const listed = new Set((await openai.models.list()).data.map((m) => m.id));
        for (const model of MODELS) {
          const row = page.find((r) => r.name === model)!;
          const pageUsable = row.inConfig && apiMayUse(row.status, requireConsent);
          const api = await openai.chat.completions
            .create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 4 })
            .then(
              () => ({ status: 200, code: null as string | null }),
              (err: { status?: number; code?: string | null }) => ({ status: err.status ?? 0, code: err.code ?? null }),
            );
          const expected = pageUsable
            ? "200"
            : row.status === "needs_consent"
              ? "403 consent_required"
              : model === "m-disabled"
                ? "404 model_not_found"
                : "403 model_not_allowed";
          const got = api.status === 200 ? "200" : `${api.status} ${api.code}`;
          if (got !== expected) mismatches.push(`${name} × ${model}: page ${row.status} (${row.reason}) → expected ${expected}, API ${got}`);
          if (listed.has(model) !== pageUsable) mismatches.push(`${name} × ${model}: page usable ${pageUsable}, /v1/models lists it ${listed.has(model)}`);
          if (pageUsable) usableSeen++;
        }
      }
      expect(mismatches).toEqual([]);
      expect(usableSeen).toBeGreaterThan(10);
    });
  }

  it("a client without a coin pool sees every model refused on the page, with the reason", async () => {
    config = parseConfigText(configText(true), "config.yaml").config;
    const rows = await clientModelAccess(db, config, { id: clients["no-pool"].id, name: "no-pool" });
    for (const row of rows) expect(row).toMatchObject({ status: "blocked", reason: "No coin pool — every model is refused" });
  });
});
