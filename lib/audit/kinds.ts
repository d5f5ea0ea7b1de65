/** The activity trail's closed vocabulary (no server imports: the Activity filter uses it in the browser). */

/** Every action, with the kind the Activity section filters by. A closed vocabulary: rows are never rewritten. */
export const AUDIT_ACTIONS = {
  "client.created": "client",
  "client.activated": "client",
  "client.deactivated": "client",
  "config.entry_written": "config",
  "config.entry_failed": "config",
  "manager.added": "managers",
  "manager.removed": "managers",
  "key.created": "keys",
  "key.rotated": "keys",
  "key.grace_ended": "keys",
  "key.revoked": "keys",
  "consent.given": "consent",
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
export type AuditKind = (typeof AUDIT_ACTIONS)[AuditAction];
export const AUDIT_KINDS = ["client", "managers", "keys", "consent", "config"] as const satisfies readonly AuditKind[];

export function actionsOfKind(kind: AuditKind): AuditAction[] {
  return (Object.keys(AUDIT_ACTIONS) as AuditAction[]).filter((a) => AUDIT_ACTIONS[a] === kind);
}
