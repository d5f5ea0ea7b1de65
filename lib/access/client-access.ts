/**
 * THE rule for what a client may call (SPEC sections 6 and 7): config, client, model and consent in;
 * status, reason and the client's coin pool out. The gateway's access check, GET /v1/models, the
 * detail page's Model access section and its Connect snippet all decide through `decideAccess`, so
 * the console can never show "Allowed" for a call the API refuses.
 *
 * A client without a coin pool (none configured, or max 0) may call nothing, whatever the model rules
 * say; the model rules are still reported (`rule`), e.g. to show that a model needs consent.
 */
import { BLOCKED_MAX } from "@/lib/coins/pool";
import { clientEntry, type ResolvedPool } from "@/lib/config/resolve";
import type { LumenConfig } from "@/lib/config/schema";
import type { Executor } from "@/lib/db/client";
import { consentedModels, hasConsent } from "./consent-queries";
import { apiMayUse, resolveModelAccess, type AccessDecision, type AccessStatus } from "./resolve";

export const NO_POOL_REASON = "No coin pool — every model is refused";
export const POOL_BLOCKED_REASON = "the client's coin pool is 0 (blocked)";

export interface ClientAccess extends AccessDecision {
  /** The client's coin pool (null: none configured). */
  pool: ResolvedPool | null;
  /** The model rules alone (section 7), before the pool is considered. */
  rule: AccessDecision;
  /** Whether an API call may use the model now (api.require_consent applied). */
  usable: boolean;
}

/** The client's access to one model, given whether a consent is recorded. Pure. */
export function decideAccess(config: LumenConfig, clientName: string, modelName: string, consented: boolean): ClientAccess {
  const pool = clientEntry(config, clientName).pool;
  const rule = resolveModelAccess(config, clientName, modelName, { consented });
  const noPool = !pool ? NO_POOL_REASON : pool.max === BLOCKED_MAX ? POOL_BLOCKED_REASON : null;
  const status: AccessStatus = noPool ? "blocked" : rule.status;
  return {
    status,
    reason: noPool ?? rule.reason,
    pool,
    rule,
    usable: apiMayUse(status, config.api.require_consent),
  };
}

/** Whether the model rules say the client needs a consent the API insists on (a read is needed then). */
const consentMatters = (config: LumenConfig, clientName: string, modelName: string) =>
  config.api.require_consent && decideAccess(config, clientName, modelName, false).status === "needs_consent";

/** The client's access to one model, reading its consent only when it matters. */
export async function accessFor(
  ex: Executor,
  config: LumenConfig,
  client: { id: string; name: string },
  modelName: string,
): Promise<ClientAccess> {
  const consented = consentMatters(config, client.name, modelName) && (await hasConsent(ex, client.id, modelName));
  return decideAccess(config, client.name, modelName, consented);
}

/** The client's access to every enabled model (at most one consent read). */
export async function accessForAll(
  ex: Executor,
  config: LumenConfig,
  client: { id: string; name: string },
): Promise<Array<{ model: string } & ClientAccess>> {
  const enabled = config.models.filter((m) => !m.disabled);
  const consented = enabled.some((m) => consentMatters(config, client.name, m.name))
    ? await consentedModels(ex, client.id)
    : new Set<string>();
  return enabled.map((m) => ({ model: m.name, ...decideAccess(config, client.name, m.name, consented.has(m.name)) }));
}
