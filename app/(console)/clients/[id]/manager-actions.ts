"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { currentViewer } from "@/lib/auth/session";
import { actingViewer } from "@/lib/audit/origin";
import { addManager, removeManager, searchUsersForManager, type UserMatch } from "@/lib/clients/managers";
import { getDb } from "@/lib/db/client";
import { DomainError, isDomainError } from "@/lib/errors";
import type { ActionState } from "@/lib/forms/action-state";
import { runFormAction } from "@/lib/forms/run-form-action";
import { errorFields, log } from "@/lib/log";

export type AddManagerState = ActionState<void, "user">;

const searchInput = z.object({ clientId: z.string().max(64), q: z.string().max(500) });
const managerForm = z.object({ clientId: z.string().max(64), userId: z.string().max(64).default("") });

function revalidateClient(clientId: string) {
  revalidatePath(`/clients/${clientId}`);
  revalidatePath("/clients");
}

/**
 * Matches for the Add Manager dialog — a lookup, not a form: anyone but an admin (or a malformed call)
 * gets an empty list, so the search reveals nothing to them.
 */
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
  return runFormAction(formData, { schema: managerForm, what: "adding the manager", logged: ["clientId", "userId"] }, async ({ clientId, userId }) => {
    if (!userId) throw new DomainError("invalid", "Choose a person.", { user: ["Choose a person from the list."] });
    await addManager(await getDb(), await actingViewer(), clientId, userId);
    revalidateClient(clientId);
  });
}

export async function removeManagerAction(_prev: ActionState, formData: FormData): Promise<ActionState> {
  return runFormAction(formData, { schema: managerForm, what: "removing the manager", logged: ["clientId", "userId"] }, async ({ clientId, userId }) => {
    await removeManager(await getDb(), await actingViewer(), clientId, userId);
    revalidateClient(clientId);
  });
}
