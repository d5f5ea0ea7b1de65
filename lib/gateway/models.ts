/**
 * Model listing and retrieval of the /v1 API (GET /v1/models, GET /v1/models/{model}): the models a
 * key may use now.
 */
import { accessForAll } from "@/lib/access/client-access";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import type { Db } from "@/lib/db/client";
import { authenticate, isMonitoringToken, type KeyCache } from "./auth";
import type { GatewayRequest } from "./request";
import { modelNotFound } from "./errors";
import { jsonAnswer, type TextAnswer } from "./answer";

/** What the model endpoints need of the gateway. */
export interface ModelDeps {
  getDb: () => Promise<Db>;
  getConfig: () => LumenConfig;
  /** The key-lookup cache (auth.ts); undefined disables it. */
  keyCache?: KeyCache;
}

/**
 * The models this key may use now (lib/access/client-access.ts decides: rules, consent, coin pool);
 * for the monitoring token (api.monitoring.token), every model not disabled.
 */
export async function usableModels(deps: ModelDeps, request: GatewayRequest): Promise<ModelConfig[]> {
  const config = deps.getConfig();
  if (isMonitoringToken(request, config.api.monitoring.token)) return config.models.filter((m) => !m.disabled);
  const db = await deps.getDb();
  const caller = await authenticate(db, request, deps.keyCache);
  const access = await accessForAll(db, config, { id: caller.clientId, name: caller.clientName });
  const usable = new Set(access.filter((a) => a.usable).map((a) => a.model));
  return config.models.filter((m) => usable.has(m.name));
}

const modelObject = (m: ModelConfig) => ({ id: m.name, object: "model", created: 0, owned_by: "lumen" });

/** GET /v1/models. */
export async function listModels(deps: ModelDeps, request: GatewayRequest): Promise<TextAnswer> {
  const models = await usableModels(deps, request);
  return jsonAnswer(JSON.stringify({ object: "list", data: models.map(modelObject) }), 200);
}

/** GET /v1/models/{model}: the name is taken from the request path (it may contain "/"). */
export async function retrieveModel(deps: ModelDeps, request: GatewayRequest): Promise<TextAnswer> {
  const name = modelNameFromPath(new URL(request.url).pathname);
  const models = await usableModels(deps, request);
  const found = name === null ? undefined : models.find((m) => m.name === name);
  if (!found) throw modelNotFound(name ?? "");
  return jsonAnswer(JSON.stringify(modelObject(found)), 200);
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
