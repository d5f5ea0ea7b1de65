"use server";

import { redirect } from "next/navigation";
import { revalidatePath } from "next/cache";
import { z } from "zod";
import { actingViewer } from "@/lib/audit/origin";
import { createClient } from "@/lib/clients/commands";
import { configPath } from "@/lib/config/load";
import { getDb } from "@/lib/db/client";
import type { ActionState } from "@/lib/forms/action-state";
import { runFormAction } from "@/lib/forms/run-form-action";

export type CreateClientState = ActionState<never, "name">;

/** The name is checked by `createClient` (SPEC §3 rules, with the messages shown next to the field). */
const createClientForm = z.object({ name: z.string().default("") });

export async function createClientAction(_prev: CreateClientState, formData: FormData): Promise<CreateClientState> {
  return runFormAction(formData, { schema: createClientForm, keep: ["name"], what: "creating the client" }, async ({ name }) => {
    const created = await createClient(await getDb(), await actingViewer(), name, { configFile: configPath() });
    revalidatePath("/clients");
    redirect(`/clients/${created.id}?created=1${created.configEntry.written ? "" : "&config=manual"}`);
  });
}
