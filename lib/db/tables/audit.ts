import { sql } from "drizzle-orm";
import { bigserial, index, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { ts } from "./columns";

/**
 * The activity trail: one row per change made in the console, written in the transaction of the change.
 * Append-only: a trigger (migration 0005) refuses UPDATE, DELETE and TRUNCATE, and no foreign key points
 * out of it, so no cascade can rewrite history. The actor's e-mail is copied in for the same reason.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    createdAt: ts("created_at").notNull().defaultNow(),
    actorId: uuid("actor_id"),
    actorEmail: text("actor_email"),
    clientId: uuid("client_id"),
    /** lib/audit/events.ts AUDIT_ACTIONS, e.g. "key.rotated". */
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    /** What the target was called then (a key's name, a manager's e-mail, a model). */
    targetLabel: text("target_label"),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
    ip: text("ip"),
    userAgent: text("user_agent"),
  },
  (t) => [index("audit_events_client_time_idx").on(t.clientId, sql`${t.createdAt} desc`, sql`${t.id} desc`)],
);
