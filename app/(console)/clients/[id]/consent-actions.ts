"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { grantConsent } from "@/lib/access/consent";
import { actingViewer } from "@/lib/audit/origin";
import { getDb } from "@/lib/db/client";
import { isDomainError } from "@/lib/errors";
import { errorFields, log } from "@/lib/log";

export interface GrantConsentState {
  ok?: boolean;
  error?: string;
}

const consentForm = z.object({
  clientId: z.string().min(1).max(64),
  model: z.string().min(1).max(500),
  /** The acknowledgement text the dialog showed (recorded only if it is still the text in force). */
  ack: z.string().max(100_000).optional(),
});

/** "Accept for this client" in the consent dialog. */
export async function grantConsentAction(_prev: GrantConsentState, formData: FormData): Promise<GrantConsentState> {
  const input = consentForm.safeParse({
    clientId: formData.get("clientId"),
    model: formData.get("model"),
    ack: formData.get("ack") ?? undefined,
  });
  if (!input.success) return { error: "The consent form was incomplete. Reload the page and try again." };
  const { clientId, model, ack } = input.data;
  try {
    await grantConsent(await getDb(), await actingViewer(), clientId, model, undefined, ack);
  } catch (err) {
    if (isDomainError(err)) return { error: err.message };
    log.error("grant consent failed", { ...errorFields(err) });
    return { error: "Something went wrong while recording the consent. Please try again." };
  }
  revalidatePath(`/clients/${clientId}`);
  return { ok: true };
}
