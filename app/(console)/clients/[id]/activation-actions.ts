"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { actingViewer } from "@/lib/audit/origin";
import { setClientActive } from "@/lib/clients/activation";
import { getDb } from "@/lib/db/client";
import type { ActionState } from "@/lib/forms/action-state";
import { runFormAction } from "@/lib/forms/run-form-action";

const activationForm = z.object({
  clientId: z.string().max(64),
  active: z.enum(["true", "false"]).transform((v) => v === "true"),
});

export async function setActiveAction(_prev: ActionState, formData: FormData): Promise<ActionState> {
  return runFormAction(formData, { schema: activationForm, what: "changing whether the client is active", logged: ["clientId"] }, async ({ clientId, active }) => {
    await setClientActive(await getDb(), await actingViewer(), clientId, active);
    revalidatePath(`/clients/${clientId}`);
    revalidatePath("/clients");
  });
}
