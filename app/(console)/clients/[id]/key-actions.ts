"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { currentViewer } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { isDomainError } from "@/lib/errors";
import { createApiKey, revokeApiKey } from "@/lib/keys/commands";
import { errorFields, log } from "@/lib/log";

export interface CreateApiKeyState {
  errors?: { name?: string[]; form?: string[] };
  values?: { name: string };
  /** The new key, returned once in this result only: never put in a URL, a cookie or a log. */
  created?: { plaintext: string; hint: string; name: string };
}

export type RevokeApiKeyResult = { ok: true } | { ok: false; error: string };

/** Shapes only; the lib checks ids, name rules and permissions. */
const createForm = z.object({ clientId: z.string().max(100), name: z.string() });
const revokeForm = z.object({ clientId: z.string().max(100), keyId: z.string().max(100) });

const text = (v: FormDataEntryValue | null) => (typeof v === "string" ? v : "");
const NOT_FOUND = "That API key or client does not exist.";

export async function createApiKeyAction(_prev: CreateApiKeyState, formData: FormData): Promise<CreateApiKeyState> {
  const raw = { clientId: text(formData.get("clientId")), name: text(formData.get("name")) };
  const values = { name: raw.name.slice(0, 1000) };
  const parsed = createForm.safeParse(raw);
  if (!parsed.success) return { values, errors: { form: [NOT_FOUND] } };
  const { clientId, name } = parsed.data;
  try {
    const key = await createApiKey(await getDb(), await currentViewer(), clientId, name);
    revalidatePath(`/clients/${clientId}`);
    return { created: { plaintext: key.plaintext, hint: key.hint, name: key.name } };
  } catch (err) {
    if (isDomainError(err)) return { values, errors: err.fieldErrors ?? { form: [err.message] } };
    log.error("create api key failed", { clientId, ...errorFields(err) });
    return { values, errors: { form: ["Something went wrong while creating the key. Please try again."] } };
  }
}

export async function revokeApiKeyAction(formData: FormData): Promise<RevokeApiKeyResult> {
  const parsed = revokeForm.safeParse({ clientId: text(formData.get("clientId")), keyId: text(formData.get("keyId")) });
  if (!parsed.success) return { ok: false, error: NOT_FOUND };
  const { clientId, keyId } = parsed.data;
  try {
    await revokeApiKey(await getDb(), await currentViewer(), clientId, keyId);
    revalidatePath(`/clients/${clientId}`);
    return { ok: true };
  } catch (err) {
    if (isDomainError(err)) return { ok: false, error: err.message };
    log.error("revoke api key failed", { clientId, keyId, ...errorFields(err) });
    return { ok: false, error: "Something went wrong while revoking the key. Please try again." };
  }
}
