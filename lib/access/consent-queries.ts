/** The consent reads of model access (one module: the gateway, /v1/models and the console use these). */
import { and, eq } from "drizzle-orm";
import type { Executor } from "@/lib/db/client";
import { consents } from "@/lib/db/schema";

/** Whether a consent is recorded for this client and model (one indexed read). */
export async function hasConsent(ex: Executor, clientId: string, model: string): Promise<boolean> {
  const [found] = await ex
    .select({ model: consents.model })
    .from(consents)
    .where(and(eq(consents.clientId, clientId), eq(consents.model, model)))
    .limit(1);
  return Boolean(found);
}

/** The models this client has consented to. */
export async function consentedModels(ex: Executor, clientId: string): Promise<Set<string>> {
  const found = await ex.select({ model: consents.model }).from(consents).where(eq(consents.clientId, clientId));
  return new Set(found.map((r) => r.model));
}
