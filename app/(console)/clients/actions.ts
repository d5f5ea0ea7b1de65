"use server";

import { redirect } from "next/navigation";
import { revalidatePath } from "next/cache";
import { actingViewer } from "@/lib/audit/origin";
import { createClient, recordConfigEntry } from "@/lib/clients/commands";
import { addClientEntry } from "@/lib/config/writer";
import { getDb } from "@/lib/db/client";
import { isDomainError } from "@/lib/errors";
import { errorFields, log } from "@/lib/log";

export interface CreateClientState {
  errors?: { name?: string[]; form?: string[] };
  values?: { name: string };
}

export async function createClientAction(_prev: CreateClientState, formData: FormData): Promise<CreateClientState> {
  const raw = formData.get("name");
  const values = { name: typeof raw === "string" ? raw : "" };
  let created: { id: string; name: string };
  const viewer = await actingViewer();
  try {
    created = await createClient(await getDb(), viewer, raw);
  } catch (err) {
    if (isDomainError(err)) {
      return { values, errors: err.fieldErrors ?? { form: [err.message] } };
    }
    log.error("create client failed", { ...errorFields(err) });
    return { values, errors: { form: ["Something went wrong while creating the client. Please try again."] } };
  }
  const written = await addClientEntry(created.name);
  if (!written.written) log.warn("config.yaml not updated for new client", { client: created.name, reason: written.reason });
  try {
    await recordConfigEntry(await getDb(), viewer, created, written);
  } catch (err) {
    // The client exists either way; the page says whether the entry must be added by hand.
    log.error("recording the config entry outcome failed", { clientId: created.id, ...errorFields(err) });
  }
  revalidatePath("/clients");
  redirect(`/clients/${created.id}?created=1${written.written ? "" : "&config=manual"}`);
}
