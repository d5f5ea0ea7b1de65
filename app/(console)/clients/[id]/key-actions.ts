"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { actingViewer } from "@/lib/audit/origin";
import { getDb } from "@/lib/db/client";
import { isDomainError } from "@/lib/errors";
import { createApiKey, endKeyGrace, revokeApiKey, rotateApiKey } from "@/lib/keys/commands";
import { errorFields, log } from "@/lib/log";

/** What the New API Key form sends back when it must be shown again (kept as typed). */
export interface KeyFormValues {
  name: string;
  expiry: string;
  expiresOn: string;
}

export interface CreateApiKeyState {
  errors?: { name?: string[]; expiry?: string[]; expiresOn?: string[]; form?: string[] };
  values?: KeyFormValues;
  /** The new key, returned once in this result only: never put in a URL, a cookie or a log. */
  created?: { plaintext: string; hint: string; name: string; expiresAt: string | null };
}

export interface RotateApiKeyState {
  errors?: { grace?: string[]; form?: string[] };
  values?: { grace: string };
  /** The new secret, returned once in this result only. */
  rotated?: { plaintext: string; hint: string; name: string; oldHint: string; oldValidUntil: string };
}

export type KeyActionResult = { ok: true } | { ok: false; error: string };

/** Shapes only; the lib checks ids, name and expiry rules and permissions. */
const createForm = z.object({
  clientId: z.string().max(100),
  name: z.string(),
  expiry: z.string().max(20),
  expiresOn: z.string().max(40),
  tzOffset: z.string().max(10),
});
const keyForm = z.object({ clientId: z.string().max(100), keyId: z.string().max(100) });
const rotateForm = keyForm.extend({ grace: z.string().max(20) });

const text = (v: FormDataEntryValue | null) => (typeof v === "string" ? v : "");
const NOT_FOUND = "That API key or client does not exist.";

export async function createApiKeyAction(_prev: CreateApiKeyState, formData: FormData): Promise<CreateApiKeyState> {
  const raw = {
    clientId: text(formData.get("clientId")),
    name: text(formData.get("name")),
    expiry: text(formData.get("expiry")),
    expiresOn: text(formData.get("expiresOn")),
    tzOffset: text(formData.get("tzOffset")),
  };
  const values = { name: raw.name.slice(0, 1000), expiry: raw.expiry.slice(0, 20), expiresOn: raw.expiresOn.slice(0, 40) };
  const parsed = createForm.safeParse(raw);
  if (!parsed.success) return { values, errors: { form: [NOT_FOUND] } };
  const { clientId, name, ...expiry } = parsed.data;
  try {
    const key = await createApiKey(await getDb(), await actingViewer(), clientId, name, expiry);
    revalidatePath(`/clients/${clientId}`);
    return {
      created: { plaintext: key.plaintext, hint: key.hint, name: key.name, expiresAt: key.expiresAt?.toISOString() ?? null },
    };
  } catch (err) {
    if (isDomainError(err)) return { values, errors: err.fieldErrors ?? { form: [err.message] } };
    log.error("create api key failed", { clientId, ...errorFields(err) });
    return { values, errors: { form: ["Something went wrong while creating the key. Please try again."] } };
  }
}

export async function rotateApiKeyAction(_prev: RotateApiKeyState, formData: FormData): Promise<RotateApiKeyState> {
  const raw = { clientId: text(formData.get("clientId")), keyId: text(formData.get("keyId")), grace: text(formData.get("grace")) };
  const values = { grace: raw.grace.slice(0, 20) };
  const parsed = rotateForm.safeParse(raw);
  if (!parsed.success) return { values, errors: { form: [NOT_FOUND] } };
  const { clientId, keyId, grace } = parsed.data;
  try {
    const key = await rotateApiKey(await getDb(), await actingViewer(), clientId, keyId, grace);
    revalidatePath(`/clients/${clientId}`);
    return {
      rotated: {
        plaintext: key.plaintext,
        hint: key.hint,
        name: key.name,
        oldHint: key.oldHint,
        oldValidUntil: key.oldValidUntil.toISOString(),
      },
    };
  } catch (err) {
    if (isDomainError(err)) return { values, errors: err.fieldErrors ?? { form: [err.message] } };
    log.error("rotate api key failed", { clientId, keyId, ...errorFields(err) });
    return { values, errors: { form: ["Something went wrong while rotating the key. Please try again."] } };
  }
}

/** The shared shape of the row buttons behind a confirmation (revoke, end grace). */
async function keyCommand(
  formData: FormData,
  what: string,
  run: (clientId: string, keyId: string) => Promise<unknown>,
): Promise<KeyActionResult> {
  const parsed = keyForm.safeParse({ clientId: text(formData.get("clientId")), keyId: text(formData.get("keyId")) });
  if (!parsed.success) return { ok: false, error: NOT_FOUND };
  const { clientId, keyId } = parsed.data;
  try {
    await run(clientId, keyId);
    revalidatePath(`/clients/${clientId}`);
    return { ok: true };
  } catch (err) {
    if (isDomainError(err)) return { ok: false, error: err.message };
    log.error(`${what} failed`, { clientId, keyId, ...errorFields(err) });
    return { ok: false, error: `Something went wrong (${what}). Please try again.` };
  }
}

export async function revokeApiKeyAction(formData: FormData): Promise<KeyActionResult> {
  return keyCommand(formData, "revoking the key", async (clientId, keyId) =>
    revokeApiKey(await getDb(), await actingViewer(), clientId, keyId),
  );
}

export async function endKeyGraceAction(formData: FormData): Promise<KeyActionResult> {
  return keyCommand(formData, "ending the grace", async (clientId, keyId) =>
    endKeyGrace(await getDb(), await actingViewer(), clientId, keyId),
  );
}
