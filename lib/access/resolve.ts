/**
 * A client's access to a model (SPEC section 7), pure: config in, status out. First match wins.
 */
import type { LumenConfig, ModelAccessBlock } from "@/lib/config/schema";
import { clientEntry, findModel } from "@/lib/config/resolve";

export type AccessStatus = "allowed" | "blocked" | "needs_consent" | "consented";

export interface AccessDecision {
  status: AccessStatus;
  /** A short explanation for the console, e.g. "allowed by group research". */
  reason: string;
}

interface Verdict {
  allowed: boolean;
  reason: string;
  /** A legacy `graylist` that decided the verdict marks the model as needing consent. */
  legacyAck: boolean;
}

export function resolveModelAccess(
  config: LumenConfig,
  clientName: string,
  modelName: string,
  opts: { consented: boolean },
): AccessDecision {
  const model = findModel(config, modelName);
  if (!model) return { status: "blocked", reason: "model not in config" };
  if (model.disabled) return { status: "blocked", reason: "model disabled" };

  const verdict = decide(config, clientName, modelName);
  if (!verdict.allowed) return { status: "blocked", reason: verdict.reason };
  if (!model.needs_ack && !verdict.legacyAck) return { status: "allowed", reason: verdict.reason };
  return opts.consented
    ? { status: "consented", reason: `${verdict.reason}; consent recorded` }
    : { status: "needs_consent", reason: `${verdict.reason}; needs consent` };
}

/** Steps 2–7 of SPEC section 7 (the model exists and is enabled). */
function decide(config: LumenConfig, clientName: string, modelName: string): Verdict {
  const entry = clientEntry(config, clientName);
  const own = entry.modelAccess;
  const ownName = entry.source === "named" ? "the client's" : "clients.default";

  // 2. the client's own lists
  if (own?.blocked.includes(modelName)) return blocked(`blocked by ${ownName} model_access.blocked`);
  if (own?.allowed.includes(modelName)) {
    return allowed(`allowed by ${ownName} model_access.allowed`, own.needs_ack.includes(modelName));
  }

  const groups = entry.groups.map((name) => ({ name, block: config.groups[name]?.model_access }));

  // 3. the groups' lists: a block anywhere wins
  const blocking = groups.find((g) => g.block?.blocked.includes(modelName));
  if (blocking) return blocked(`blocked by group ${blocking.name}`);
  const allowing = groups.filter((g) => g.block?.allowed.includes(modelName));
  if (allowing.length > 0) {
    return allowed(
      `allowed by ${groupLabel(allowing)}`,
      allowing.some((g) => g.block?.needs_ack.includes(modelName)),
    );
  }

  // 4. the model's own access
  const model = findModel(config, modelName);
  if (model?.access === "blocked") return blocked("blocked by the model's access setting");
  if (model?.access === "allowed") return allowed("allowed by the model's access setting", false);

  // 5. the groups' defaults: one allowing default is enough
  const withDefault = groups.filter((g): g is { name: string; block: ModelAccessBlock } => g.block?.default !== undefined);
  if (withDefault.length > 0) {
    const allowingDefaults = withDefault.filter((g) => g.block.default === "allowed");
    if (allowingDefaults.length === 0) return blocked(`blocked by the default of ${groupLabel(withDefault)}`);
    return allowed(
      `allowed by the default of ${groupLabel(allowingDefaults)}`,
      allowingDefaults.some((g) => g.block.default_needs_ack),
    );
  }

  // 6. the client's own default
  if (own?.default === "blocked") return blocked(`blocked by ${ownName} model_access.default`);
  if (own?.default === "allowed") return allowed(`allowed by ${ownName} model_access.default`, own.default_needs_ack);

  // 7. the global default
  return config.defaults.model_access === "allowed"
    ? allowed("allowed by defaults.model_access", config.defaults.model_access_needs_ack)
    : blocked("blocked by defaults.model_access");
}

function allowed(reason: string, legacyAck: boolean): Verdict {
  return { allowed: true, reason, legacyAck };
}

function blocked(reason: string): Verdict {
  return { allowed: false, reason, legacyAck: false };
}

function groupLabel(groups: Array<{ name: string }>): string {
  return `${groups.length === 1 ? "group" : "groups"} ${groups.map((g) => g.name).join(", ")}`;
}

/**
 * Whether an API call may use the model. `requireConsent` is `api.require_consent`: when false,
 * a model that still needs consent may be used anyway (blocked stays blocked).
 */
export function apiMayUse(status: AccessStatus, requireConsent: boolean): boolean {
  switch (status) {
    case "allowed":
    case "consented":
      return true;
    case "needs_consent":
      return !requireConsent;
    case "blocked":
      return false;
  }
}
