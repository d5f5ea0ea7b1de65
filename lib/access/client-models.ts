/**
 * The detail page's "Model access" table: every configured model with this client's status
 * (SPEC section 7), the model's health and the client's usage of it. Three queries in all
 * (usage, consents, endpoint health), whatever the number of models.
 */
import { eq, inArray } from "drizzle-orm";
import type { Executor } from "@/lib/db/client";
import { clientModelUsage, consents, endpoints, users } from "@/lib/db/schema";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import { ENDPOINT_BUILTIN_ECHO } from "@/lib/config/schema";
import { decideAccess, NO_POOL_REASON, POOL_BLOCKED_REASON } from "./client-access";
import type { AccessStatus } from "./resolve";

export { NO_POOL_REASON, POOL_BLOCKED_REASON };

export type ModelHealth = "ok" | "degraded" | "down" | "disabled" | "unknown";

export const REMOVED_REASON = "removed from config.yaml (usage history kept)";

export interface ConsentRecord {
  at: Date;
  /** Who consented (null when that user was deleted). */
  byName: string | null;
  byEmail: string | null;
}

export interface ModelAccessRow {
  name: string;
  status: AccessStatus;
  reason: string;
  needsAck: boolean;
  ackMessage: string | null;
  health: ModelHealth;
  /** False for a model that is gone from config.yaml but has usage by this client (shown for history). */
  inConfig: boolean;
  consent: ConsentRecord | null;
  requests: number;
  /** Input + output tokens, as text. */
  tokens: string;
  /** 6-decimal text. */
  coins: string;
  lastUsedAt: Date | null;
}

/** An endpoint's last health check, as the gateway stores it (null: not checked yet). */
export interface EndpointHealthRow {
  model: string;
  url: string;
  upstreamModel: string | null;
  healthy: boolean | null;
}

/**
 * A model's health from its configured endpoints and their stored checks. `builtin:echo` is always
 * healthy; an http endpoint without a check yet is unknown. All healthy → ok; some → degraded;
 * none healthy: down when every endpoint was checked, else unknown.
 */
export function modelHealth(model: ModelConfig, checks: ReadonlyArray<EndpointHealthRow>): ModelHealth {
  if (model.disabled) return "disabled";
  const mine = checks.filter((c) => c.model === model.name);
  let healthy = 0;
  let down = 0;
  for (const ep of model.endpoints) {
    if (ep.url === ENDPOINT_BUILTIN_ECHO) {
      healthy++;
      continue;
    }
    const upstream = ep.model ?? null;
    const check =
      mine.find((c) => c.url === ep.url && c.upstreamModel === upstream) ?? mine.find((c) => c.url === ep.url);
    if (check?.healthy === true) healthy++;
    else if (check?.healthy === false) down++;
  }
  const total = model.endpoints.length;
  if (total > 0 && healthy === total) return "ok";
  if (healthy > 0) return "degraded";
  return total > 0 && down === total ? "down" : "unknown";
}

/** Every configured model with this client's access, health and usage (see ModelAccessRow). */
export async function clientModelAccess(
  ex: Executor,
  config: LumenConfig,
  client: { id: string; name: string },
): Promise<ModelAccessRow[]> {
  const names = config.models.map((m) => m.name);
  const [usage, given, checks] = await Promise.all([
    ex
      .select({
        model: clientModelUsage.model,
        requests: clientModelUsage.requests,
        inputTokens: clientModelUsage.inputTokens,
        outputTokens: clientModelUsage.outputTokens,
        coins: clientModelUsage.coinsSpent,
        lastUsedAt: clientModelUsage.lastUsedAt,
      })
      .from(clientModelUsage)
      .where(eq(clientModelUsage.clientId, client.id)),
    ex
      .select({ model: consents.model, at: consents.createdAt, byName: users.name, byEmail: users.email })
      .from(consents)
      .leftJoin(users, eq(users.id, consents.userId))
      .where(eq(consents.clientId, client.id)),
    names.length === 0
      ? Promise.resolve([] as EndpointHealthRow[])
      : ex
          .select({
            model: endpoints.model,
            url: endpoints.url,
            upstreamModel: endpoints.upstreamModel,
            healthy: endpoints.healthy,
          })
          .from(endpoints)
          .where(inArray(endpoints.model, names)),
  ]);

  const usageBy = new Map(usage.map((u) => [u.model, u]));
  const consentBy = new Map(given.map((c) => [c.model, c]));

  const usageOf = (model: string) => {
    const u = usageBy.get(model);
    return {
      requests: Number(u?.requests ?? 0),
      // Two bigint counters: add as BigInt so sums beyond 2^53 stay exact.
      tokens: u ? (BigInt(u.inputTokens) + BigInt(u.outputTokens)).toString() : "0",
      coins: u?.coins ?? "0.000000",
      lastUsedAt: u?.lastUsedAt ?? null,
    };
  };

  const rows: ModelAccessRow[] = config.models.map((model) => {
    const consent = consentBy.get(model.name);
    const { status, reason, rule } = decideAccess(config, client.name, model.name, Boolean(consent));
    return {
      name: model.name,
      status,
      reason,
      needsAck: model.needs_ack || rule.status === "needs_consent" || rule.status === "consented",
      ackMessage: model.ack_message ?? null,
      health: modelHealth(model, checks),
      inConfig: true,
      consent: consent ? { at: consent.at, byName: consent.byName, byEmail: consent.byEmail } : null,
      ...usageOf(model.name),
    };
  });

  const configured = new Set(names);
  const removed = usage
    .map((u) => u.model)
    .filter((m) => !configured.has(m))
    .sort((a, b) => a.localeCompare(b));
  for (const name of removed) {
    const consent = consentBy.get(name);
    rows.push({
      name,
      status: "blocked",
      reason: REMOVED_REASON,
      needsAck: false,
      ackMessage: null,
      health: "disabled",
      inConfig: false,
      consent: consent ? { at: consent.at, byName: consent.byName, byEmail: consent.byEmail } : null,
      ...usageOf(name),
    });
  }
  return rows;
}
