/**
 * The activity trail (SPEC §10 "Accountability"): every change made in the console is one row of the
 * append-only `audit_events` table, inserted by the command that makes the change, with its `tx`, so the
 * row exists exactly when the change does. After the commit the command emits the same event as a
 * structured log line (`emitAudit`), so a log pipeline sees it too, and never sees a rolled-back one.
 */
import type { Executor } from "@/lib/db/client";
import { auditEvents } from "@/lib/db/schema";
import type { Viewer } from "@/lib/auth/permissions";
import { log } from "@/lib/log";
import type { AuditAction } from "./kinds";

export { actionsOfKind, AUDIT_ACTIONS, AUDIT_KINDS, type AuditAction, type AuditKind } from "./kinds";

/** Where a console change came from: the caller's address and browser, as far as the server can tell. */
export interface RequestOrigin {
  ip: string | null;
  userAgent: string | null;
}

/**
 * The origin recorded for a request with these headers. The address is the last hop of
 * `x-forwarded-for`: under server.ts that header is the socket's address (Next sets it after server.ts
 * dropped whatever the caller sent), or, with `app.trust_proxy`, the list a proxy passed on, whose last
 * entry is the address that proxy saw. (Under `next dev`/`next start` nothing drops a caller's header.)
 */
export function originFromHeaders(h: { get(name: string): string | null }): RequestOrigin {
  const hops = (h.get("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const ip = hops[hops.length - 1] ?? null;
  return { ip: ip ? ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "") : null, userAgent: h.get("user-agent")?.trim() || null };
}

export interface AuditEntry {
  clientId: string;
  action: AuditAction;
  target?: { type: "client" | "user" | "key" | "model" | "config"; id?: string | null; label?: string | null };
  details?: Record<string, unknown>;
}

export interface RecordedAudit extends AuditEntry {
  id: number;
  createdAt: Date;
  actorId: string | null;
  actorEmail: string | null;
  ip: string | null;
}

const MAX_IP = 64;
const MAX_USER_AGENT = 512;

const clip = (value: string | null | undefined, max: number) => (value ? value.slice(0, max) : null);

/**
 * Inserts one event in the caller's transaction. Call it with the `tx` of the change it records: if the
 * change rolls back, so does the event, and if the event cannot be written the change fails with it.
 */
export async function recordAudit(tx: Executor, viewer: Viewer | null, entry: AuditEntry): Promise<RecordedAudit> {
  const origin = viewer?.origin;
  const [row] = await tx
    .insert(auditEvents)
    .values({
      actorId: viewer?.user.id ?? null,
      actorEmail: viewer?.user.email ?? null,
      clientId: entry.clientId,
      action: entry.action,
      targetType: entry.target?.type ?? null,
      targetId: entry.target?.id ?? null,
      targetLabel: entry.target?.label ?? null,
      details: entry.details ?? {},
      ip: clip(origin?.ip, MAX_IP),
      userAgent: clip(origin?.userAgent, MAX_USER_AGENT),
    })
    .returning({ id: auditEvents.id, createdAt: auditEvents.createdAt, actorId: auditEvents.actorId, actorEmail: auditEvents.actorEmail, ip: auditEvents.ip });
  if (!row) throw new Error("audit insert returned nothing");
  return { ...entry, ...row };
}

/** The structured log line of committed events (never before the commit: a rolled-back change did not happen). */
export function emitAudit(...events: RecordedAudit[]): void {
  for (const e of events) {
    log.info("audit", {
      auditId: e.id,
      action: e.action,
      clientId: e.clientId,
      actorId: e.actorId,
      actorEmail: e.actorEmail,
      ip: e.ip,
      target: e.target,
      details: e.details,
    });
  }
}
