/**
 * The access check of the /v1 pipeline (SPEC §7 plus the coin pool), and the bookkeeping of a
 * refused request (counted, hooks told; it costs nothing).
 */
import { and, eq } from "drizzle-orm";
import { BLOCKED_MAX } from "@/lib/coins/pool";
import { recordRefusal } from "@/lib/coins/settle";
import { clientEntry } from "@/lib/config/resolve";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import { apiMayUse, resolveModelAccess } from "@/lib/access/resolve";
import type { Db } from "@/lib/db/client";
import { consents } from "@/lib/db/schema";
import { errorFields, log } from "@/lib/log";
import type { Caller } from "./auth";
import { consentRequired, modelNotAllowed, type GatewayError } from "./errors";
import { observe, type GatewayHooks, type RefusalReason } from "./settlement";

/** Counts a refusal and tells the hooks; returns the error to throw. */
export async function refuse(
  hooks: GatewayHooks,
  db: Db,
  caller: Caller,
  model: string,
  reason: RefusalReason,
  error: GatewayError,
): Promise<GatewayError> {
  try {
    await recordRefusal(db, caller.clientId);
  } catch (err) {
    log.error("refusal not recorded", { clientId: caller.clientId, ...errorFields(err) });
  }
  observe(() => hooks.refused?.({ clientId: caller.clientId, clientName: caller.clientName, model, reason }));
  return error;
}

/** Whether a consent is recorded for this client and model (one indexed read). */
async function hasConsent(db: Db, clientId: string, model: string): Promise<boolean> {
  const [found] = await db
    .select({ model: consents.model })
    .from(consents)
    .where(and(eq(consents.clientId, clientId), eq(consents.model, model)))
    .limit(1);
  return Boolean(found);
}

/** Access check (SPEC §7 plus the pool): throws model_not_allowed or consent_required. */
export async function checkAccess(hooks: GatewayHooks, db: Db, config: LumenConfig, caller: Caller, model: ModelConfig) {
  const pool = clientEntry(config, caller.clientName).pool;
  if (!pool || pool.max === BLOCKED_MAX) {
    throw await refuse(hooks, db, caller, model.name, "model_not_allowed", modelNotAllowed(model.name));
  }
  let decision = resolveModelAccess(config, caller.clientName, model.name, { consented: false });
  if (decision.status === "needs_consent" && config.api.require_consent) {
    const consented = await hasConsent(db, caller.clientId, model.name);
    decision = resolveModelAccess(config, caller.clientName, model.name, { consented });
  }
  if (apiMayUse(decision.status, config.api.require_consent)) return pool;
  if (decision.status === "needs_consent") {
    const where = `${config.app.base_url.replace(/\/+$/, "")}/clients/${caller.clientId}`;
    throw await refuse(hooks, db, caller, model.name, "consent_required", consentRequired(model.name, where));
  }
  throw await refuse(hooks, db, caller, model.name, "model_not_allowed", modelNotAllowed(model.name));
}
