"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { grantConsent } from "@/lib/access/consent";
import { actingViewer } from "@/lib/audit/origin";
import { getDb } from "@/lib/db/client";
import type { ActionState } from "@/lib/forms/action-state";
import { runFormAction } from "@/lib/forms/run-form-action";

const consentForm = z.object({
  clientId: z.string().min(1).max(64),
  model: z.string().min(1).max(500),
  /** The acknowledgement text the dialog showed (recorded only if it is still the text in force). */
  ack: z.string().max(100_000).optional(),
});

/** "Accept for this client" in the consent dialog. */
export async function grantConsentAction(_prev: ActionState, formData: FormData): Promise<ActionState> {
  return runFormAction(formData, { schema: consentForm, what: "recording the consent", logged: ["clientId", "model"] }, async ({ clientId, model, ack }) => {
    await grantConsent(await getDb(), await actingViewer(), clientId, model, undefined, ack);
    revalidatePath(`/clients/${clientId}`);
  });
}
