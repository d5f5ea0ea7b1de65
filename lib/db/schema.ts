/**
 * The database schema (Drizzle), one module per domain under tables/; drizzle-kit reads this file
 * (drizzle.config.ts) and every importer takes the tables from here.
 */
import type { apiKeys } from "./tables/keys";
import type { auditEvents } from "./tables/audit";
import type { clients } from "./tables/clients";
import type { requestLog } from "./tables/usage";
import type { users, userSessions } from "./tables/users";

export { users, userSessions } from "./tables/users";
export { clients, clientManagers, clientTotals, consents } from "./tables/clients";
export { apiKeys, apiKeyRetiredSecrets } from "./tables/keys";
export { coinLeases, coinPools, coinReservations, clientModelUsage, clientDailyUsage, requestLog, requestLogDropped } from "./tables/usage";
export { auditEvents } from "./tables/audit";
export { models, endpoints } from "./tables/models";

export type User = typeof users.$inferSelect;
export type UserSession = typeof userSessions.$inferSelect;
export type Client = typeof clients.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
export type AuditEvent = typeof auditEvents.$inferSelect;
export type RequestLogRow = typeof requestLog.$inferSelect;
