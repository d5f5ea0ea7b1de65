/**
 * The access check of the /v1 pipeline (SPEC §7 plus the coin pool), and the bookkeeping of a
 * refused request (counted, hooks told; it costs nothing).
 */
import { accessFor } from "@/lib/access/client-access";
import { recordRefusal } from "@/lib/coins/settle";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import type { Db } from "@/lib/db/client";
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

/**
 * Access check (lib/access/client-access.ts decides; SPEC §6–7): returns the client's pool, or throws
 * consent_required / model_not_allowed (which also covers a client without a coin pool).
 */
export async function checkAccess(hooks: GatewayHooks, db: Db, config: LumenConfig, caller: Caller, model: ModelConfig) {
  const access = await accessFor(db, config, { id: caller.clientId, name: caller.clientName }, model.name);
  if (access.usable && access.pool) return access.pool;
  if (access.status === "needs_consent") {
    const where = `${config.app.base_url.replace(/\/+$/, "")}/clients/${caller.clientId}`;
    throw await refuse(hooks, db, caller, model.name, "consent_required", consentRequired(model.name, where));
  }
  throw await refuse(hooks, db, caller, model.name, "model_not_allowed", modelNotAllowed(model.name));
}
