"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { actingViewer } from "@/lib/audit/origin";
import { getDb } from "@/lib/db/client";
import type { ActionState } from "@/lib/forms/action-state";
import { runFormAction } from "@/lib/forms/run-form-action";
import { createApiKey, endKeyGrace, revokeApiKey, rotateApiKey } from "@/lib/keys/commands";

/** The new key, returned once in this result only: never put in a URL, a cookie or a log. */
export interface CreatedKey {
  plaintext: string;
  hint: string;
  name: string;
  expiresAt: string | null;
}

/** The new secret, returned once in this result only. */
export interface RotatedKey {
  plaintext: string;
  hint: string;
  name: string;
  oldHint: string;
  oldValidUntil: string;
}

export type CreateApiKeyState = ActionState<CreatedKey, "name" | "expiry" | "expiresOn">;
export type RotateApiKeyState = ActionState<RotatedKey, "grace">;

/** Shapes only; the lib checks ids, name and expiry rules and permissions. */
const createForm = z.object({
  clientId: z.string().max(100),
  name: z.string().default(""),
  expiry: z.string().max(20).default(""),
  expiresOn: z.string().max(40).default(""),
  tzOffset: z.string().max(10).default(""),
});
const keyForm = z.object({ clientId: z.string().max(100), keyId: z.string().max(100) });
const rotateForm = keyForm.extend({ grace: z.string().max(20).default("") });

export async function createApiKeyAction(_prev: CreateApiKeyState, formData: FormData): Promise<CreateApiKeyState> {
  const spec = { schema: createForm, keep: ["name", "expiry", "expiresOn"] as const, what: "creating the key", logged: ["clientId"] as const };
  return runFormAction(formData, spec, async ({ clientId, name, ...expiry }) => {
    const key = await createApiKey(await getDb(), await actingViewer(), clientId, name, expiry);
    revalidatePath(`/clients/${clientId}`);
    return { plaintext: key.plaintext, hint: key.hint, name: key.name, expiresAt: key.expiresAt?.toISOString() ?? null };
  });
}

export async function rotateApiKeyAction(_prev: RotateApiKeyState, formData: FormData): Promise<RotateApiKeyState> {
  const spec = { schema: rotateForm, keep: ["grace"] as const, what: "rotating the key", logged: ["clientId", "keyId"] as const };
  return runFormAction(formData, spec, async ({ clientId, keyId, grace }) => {
    const key = await rotateApiKey(await getDb(), await actingViewer(), clientId, keyId, grace);
    revalidatePath(`/clients/${clientId}`);
    return { plaintext: key.plaintext, hint: key.hint, name: key.name, oldHint: key.oldHint, oldValidUntil: key.oldValidUntil.toISOString() };
  });
}

export async function revokeApiKeyAction(_prev: ActionState, formData: FormData): Promise<ActionState> {
  return runFormAction(formData, { schema: keyForm, what: "revoking the key", logged: ["clientId", "keyId"] }, async ({ clientId, keyId }) => {
    await revokeApiKey(await getDb(), await actingViewer(), clientId, keyId);
    revalidatePath(`/clients/${clientId}`);
  });
}

export async function endKeyGraceAction(_prev: ActionState, formData: FormData): Promise<ActionState> {
  return runFormAction(formData, { schema: keyForm, what: "ending the grace", logged: ["clientId", "keyId"] }, async ({ clientId, keyId }) => {
    await endKeyGrace(await getDb(), await actingViewer(), clientId, keyId);
    revalidatePath(`/clients/${clientId}`);
  });
}
