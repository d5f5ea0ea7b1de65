/**
 * The Activity section: a client's audit events, newest first, 50 a page, optionally of one kind.
 * URL state: `?activity_kind=keys&activity_page=2`. Served by (client_id, created_at desc, id desc).
 */
import { and, desc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Executor } from "@/lib/db/client";
import { auditEvents, users } from "@/lib/db/schema";
import { actionsOfKind, AUDIT_KINDS, type AuditAction, type AuditKind } from "./kinds";

export const ACTIVITY_PAGE = 50;

const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);

export interface ActivityParams {
  kind: AuditKind | null;
  page: number;
}

export function parseActivityParams(sp: Record<string, string | string[] | undefined>): ActivityParams {
  const kind = z.enum(AUDIT_KINDS).nullable().catch(null).parse(first(sp.activity_kind) ?? null);
  const page = z.coerce.number().int().min(1).max(100_000).catch(1).parse(first(sp.activity_page) ?? 1);
  return { kind, page };
}

export interface ActivityRow {
  id: number;
  createdAt: Date;
  action: AuditAction;
  actorId: string | null;
  actorEmail: string | null;
  /** The actor's current display name, when they still exist and have one. */
  actorName: string | null;
  targetType: string | null;
  targetId: string | null;
  targetLabel: string | null;
  details: Record<string, unknown>;
  ip: string | null;
  userAgent: string | null;
}

/** One page of the client's activity; `hasOlder` tells whether another page follows. The caller checks visibility. */
export async function listActivity(
  ex: Executor,
  clientId: string,
  params: ActivityParams,
): Promise<{ rows: ActivityRow[]; hasOlder: boolean }> {
  const found = await ex
    .select({
      id: auditEvents.id,
      createdAt: auditEvents.createdAt,
      action: auditEvents.action,
      actorId: auditEvents.actorId,
      actorEmail: auditEvents.actorEmail,
      actorName: users.name,
      targetType: auditEvents.targetType,
      targetId: auditEvents.targetId,
      targetLabel: auditEvents.targetLabel,
      details: auditEvents.details,
      ip: auditEvents.ip,
      userAgent: auditEvents.userAgent,
    })
    .from(auditEvents)
    .leftJoin(users, eq(users.id, auditEvents.actorId))
    .where(and(eq(auditEvents.clientId, clientId), params.kind ? inArray(auditEvents.action, actionsOfKind(params.kind)) : undefined))
    .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
    .limit(ACTIVITY_PAGE + 1)
    .offset((params.page - 1) * ACTIVITY_PAGE);
  return {
    rows: found.slice(0, ACTIVITY_PAGE).map((r) => ({ ...r, id: Number(r.id), action: r.action as AuditAction })),
    hasOlder: found.length > ACTIVITY_PAGE,
  };
}
