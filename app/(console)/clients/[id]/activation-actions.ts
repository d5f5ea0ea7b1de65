"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { actingViewer } from "@/lib/audit/origin";
import { setClientActive } from "@/lib/clients/activation";
import { getDb } from "@/lib/db/client";
import { isDomainError } from "@/lib/errors";
import { errorFields, log } from "@/lib/log";

export type SetActiveResult = { ok: true } | { ok: false; error: string };

const activationForm = z.object({
  clientId: z.string().max(64),
  active: z.enum(["true", "false"]).transform((v) => v === "true"),
});

export async function setActiveAction(formData: FormData): Promise<SetActiveResult> {
  const input = activationForm.safeParse({ clientId: formData.get("clientId"), active: formData.get("active") });
  if (!input.success) return { ok: false, error: "That request was not understood." };
  const { clientId, active } = input.data;
  try {
    await setClientActive(await getDb(), await actingViewer(), clientId, active);
  } catch (err) {
    if (isDomainError(err)) return { ok: false, error: err.message };
    log.error("set client active failed", { ...errorFields(err) });
    return { ok: false, error: "Something went wrong. Please try again." };
  }
  revalidatePath(`/clients/${clientId}`);
  revalidatePath("/clients");
  return { ok: true };
}
