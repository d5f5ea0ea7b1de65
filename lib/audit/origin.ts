/**
 * The origin of a console request, for the activity trail. Adapter code (reads Next's request headers):
 * server actions call `actingViewer()` instead of `currentViewer()` for anything they change.
 *
 * The address: server.ts (production) overwrites `x-lumen-peer` with the socket's address on every
 * request, so a caller cannot forge it. Without server.ts (`next dev` / `next start`) the first hop of
 * `x-forwarded-for` is used, which Next fills from the socket when the caller sent none.
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
