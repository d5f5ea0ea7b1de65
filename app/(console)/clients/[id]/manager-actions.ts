"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { currentViewer } from "@/lib/auth/session";
import { actingViewer } from "@/lib/audit/origin";
import { addManager, removeManager, searchUsersForManager, type UserMatch } from "@/lib/clients/managers";
import { getDb } from "@/lib/db/client";
import { isDomainError } from "@/lib/errors";
import { errorFields, log } from "@/lib/log";

export interface AddManagerState {
  ok?: boolean;
  errors?: { user?: string[]; form?: string[] };
}

export type RemoveManagerResult = { ok: true } | { ok: false; error: string };

const searchInput = z.object({ clientId: z.string().max(64), q: z.string().max(500) });
const managerForm = z.object({ clientId: z.string().max(64), userId: z.string().max(64) });

function formFields(formData: FormData) {
  return managerForm.safeParse({ clientId: formData.get("clientId"), userId: formData.get("userId") });
}

function revalidateClient(clientId: string) {
  revalidatePath(`/clients/${clientId}`);
  revalidatePath("/clients");
}

/** Matches for the Add Manager dialog. Anyone but an admin (or a malformed call) gets an empty list. */
export async function searchUsersAction(clientId: string, q: string): Promise<UserMatch[]> {
  const input = searchInput.safeParse({ clientId, q });
  if (!input.success) return [];
  try {
    const viewer = await currentViewer();
    if (!viewer?.isAdmin) return [];
    return await searchUsersForManager(await getDb(), viewer, input.data.clientId, input.data.q);
  } catch (err) {
    if (!isDomainError(err)) log.error("manager search failed", { ...errorFields(err) });
    return [];
  }
}

export async function addManagerAction(_prev: AddManagerState, formData: FormData): Promise<AddManagerState> {
  const input = formFields(formData);
  if (!input.success || !input.data.userId) {
    return { errors: { user: ["Choose a person from the list."] } };
  }
  const { clientId, userId } = input.data;
  try {
    await addManager(await getDb(), await actingViewer(), clientId, userId);
  } catch (err) {
    if (isDomainError(err)) return { errors: err.fieldErrors ?? { form: [err.message] } };
    log.error("add manager failed", { ...errorFields(err) });
    return { errors: { form: ["Something went wrong while adding the manager. Please try again."] } };
  }
  revalidateClient(clientId);
  return { ok: true };
}

export async function removeManagerAction(formData: FormData): Promise<RemoveManagerResult> {
  const input = formFields(formData);
  if (!input.success) return { ok: false, error: "That request was not understood." };
  const { clientId, userId } = input.data;
  try {
    await removeManager(await getDb(), await actingViewer(), clientId, userId);
  } catch (err) {
    if (isDomainError(err)) return { ok: false, error: err.message };
    log.error("remove manager failed", { ...errorFields(err) });
    return { ok: false, error: "Something went wrong while removing the manager. Please try again." };
  }
  revalidateClient(clientId);
  return { ok: true };
}
