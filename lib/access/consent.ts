/**
 * Granting a model consent for a client (SPEC sections 2 and 7): an admin or a manager of this
 * client acknowledges, on the client's behalf, a model that needs it. Once per client and model.
 */
import { isUuid } from "@/lib/ids";
import { eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { clients, consents } from "@/lib/db/schema";
import { canViewClient, type Viewer } from "@/lib/auth/permissions";
import { emitAudit, recordAudit } from "@/lib/audit/events";
import { getConfig } from "@/lib/config";
import type { LumenConfig } from "@/lib/config/schema";
import { findModel } from "@/lib/config/resolve";
import { DomainError, forbidden, notFound } from "@/lib/errors";
import { hasConsent } from "./consent-queries";
import { resolveModelAccess } from "./resolve";


export interface GrantConsentResult {
  /** False when a consent was already recorded (nothing changed). */
  created: boolean;
}

/**
 * Records the viewer's consent for `model` on behalf of the client, with the acknowledgement text in
 * force now. Only for a model whose status for this client is "needs consent" (per the access rules
 * of section 7; the coin pool does not matter). A second consent is a no-op.
 *
 * `shownAck`, when given, is the acknowledgement text the dialog showed: if config.yaml changed it
 * meanwhile, nothing is recorded (conflict), so the activity trail always holds the text the person saw.
 *
 * Throws DomainError: forbidden (signed out, or neither admin nor manager of this client),
 * not_found (client or model), invalid (the model is blocked for this client or needs no consent),
 * conflict (the text changed).
 */
export async function grantConsent(
  db: Db,
  viewer: Viewer | null,
  clientId: string,
  model: string,
  config: LumenConfig = getConfig(),
  shownAck?: string | null,
): Promise<GrantConsentResult> {
  if (!viewer) throw forbidden("Sign in to grant consent.");
  if (!isUuid(clientId)) throw notFound("That client does not exist.");
  if (!(await canViewClient(db, viewer, clientId))) {
    throw forbidden("Only this client's managers and administrators can grant consent.");
  }
  const [client] = await db.select({ name: clients.name }).from(clients).where(eq(clients.id, clientId)).limit(1);
  if (!client) throw notFound("That client does not exist.");

  const modelConfig = findModel(config, model);
  if (!modelConfig) throw notFound("That model does not exist.");

  const existing = await hasConsent(db, clientId, model);
  const { status } = resolveModelAccess(config, client.name, model, { consented: existing });
  switch (status) {
    case "consented":
      return { created: false };
    case "blocked":
      throw new DomainError("invalid", `The model “${model}” is not allowed for this client.`);
    case "allowed":
      throw new DomainError("invalid", `The model “${model}” does not need consent.`);
    case "needs_consent":
      break;
  }

  const ackMessage = modelConfig.ack_message ?? null;
  if (shownAck !== undefined && (shownAck ?? "") !== (ackMessage ?? "")) {
    throw new DomainError(
      "conflict",
      "The terms of this model changed while the dialog was open. Close it and read the new text before accepting.",
    );
  }
  const audit = await db.transaction(async (tx) => {
    const inserted = await tx
      .insert(consents)
      .values({ clientId, model, userId: viewer.user.id, ackMessage })
      .onConflictDoNothing({ target: [consents.clientId, consents.model] })
      .returning({ model: consents.model });
    if (inserted.length === 0) return null;
    return recordAudit(tx, viewer, {
      clientId,
      action: "consent.given",
      target: { type: "model", label: model },
      details: { terms: ackMessage },
    });
  });
  if (audit) emitAudit(audit);
  return { created: audit !== null };
}
