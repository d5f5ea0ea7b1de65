/**
 * The origin of a console request, for the activity trail. Adapter code (reads Next's request headers):
 * server actions call `actingViewer()` instead of `currentViewer()` for anything they change.
 * Which address is recorded, and why it cannot be forged under server.ts: `originFromHeaders`.
 */
import { headers } from "next/headers";
import { currentViewer } from "@/lib/auth/session";
import type { Viewer } from "@/lib/auth/permissions";
import { originFromHeaders } from "./events";

/** The signed-in viewer with the request's origin attached (null when signed out). */
export async function actingViewer(): Promise<Viewer | null> {
  const viewer = await currentViewer();
  if (!viewer) return null;
  return { ...viewer, origin: originFromHeaders(await headers()) };
}
