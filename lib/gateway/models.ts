/**
 * Model listing and retrieval of the /v1 API (GET /v1/models, GET /v1/models/{model}): the models a
 * key may use now.
 */
import { eq } from "drizzle-orm";
import { BLOCKED_MAX } from "@/lib/coins/pool";
import { clientEntry } from "@/lib/config/resolve";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import { apiMayUse, resolveModelAccess } from "@/lib/access/resolve";
import type { Db } from "@/lib/db/client";
import { consents } from "@/lib/db/schema";
import { JSON_HEADERS } from "./answers";
import { authenticate, type KeyCache } from "./auth";
import type { GatewayRequest } from "./request";
import { modelNotFound } from "./errors";
import { jsonResponse } from "./json-response";

/** What the model endpoints need of the gateway. */
export interface ModelDeps {
  getDb: () => Promise<Db>;
  getConfig: () => LumenConfig;
  /** The key-lookup cache (auth.ts); undefined disables it. */
  keyCache?: KeyCache;
}

/** The models this key may use now (not blocked, consent satisfied, client has a pool). */
export async function usableModels(deps: ModelDeps, request: GatewayRequest): Promise<ModelConfig[]> {
  const config = deps.getConfig();
  const db = await deps.getDb();
  const caller = await authenticate(db, request, deps.keyCache);
  const pool = clientEntry(config, caller.clientName).pool;
  if (!pool || pool.max === BLOCKED_MAX) return [];
  const enabled = config.models.filter((m) => !m.disabled);
  const needConsent = enabled.some(
    (m) => resolveModelAccess(config, caller.clientName, m.name, { consented: false }).status === "needs_consent",
  );
  const consented = new Set<string>();
  if (needConsent && config.api.require_consent) {
    const rows = await db.select({ model: consents.model }).from(consents).where(eq(consents.clientId, caller.clientId));
    for (const r of rows) consented.add(r.model);
  }
  return enabled.filter((m) =>
    apiMayUse(
      resolveModelAccess(config, caller.clientName, m.name, { consented: consented.has(m.name) }).status,
      config.api.require_consent,
    ),
  );
}

const modelObject = (m: ModelConfig) => ({ id: m.name, object: "model", created: 0, owned_by: "lumen" });

/** GET /v1/models. */
export async function listModels(deps: ModelDeps, request: GatewayRequest): Promise<Response> {
  const models = await usableModels(deps, request);
  return jsonResponse(JSON.stringify({ object: "list", data: models.map(modelObject) }), 200, JSON_HEADERS);
}

/** GET /v1/models/{model}: the name is taken from the request path (it may contain "/"). */
export async function retrieveModel(deps: ModelDeps, request: GatewayRequest): Promise<Response> {
  const name = modelNameFromPath(new URL(request.url).pathname);
  const models = await usableModels(deps, request);
  const found = name === null ? undefined : models.find((m) => m.name === name);
  if (!found) throw modelNotFound(name ?? "");
  return jsonResponse(JSON.stringify(modelObject(found)), 200, JSON_HEADERS);
}

/** `/v1/models/org%2Fname` or `/v1/models/org/name` → "org/name"; null when malformed. */
export function modelNameFromPath(pathname: string): string | null {
  const marker = "/models/";
  const at = pathname.indexOf(marker);
  if (at < 0) return null;
  try {
    const name = pathname
      .slice(at + marker.length)
      .split("/")
      .map((s) => decodeURIComponent(s))
      .join("/");
    return name || null;
  } catch {
    return null;
  }
}
