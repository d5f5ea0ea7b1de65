import { boolean, pgTable, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { ts } from "./columns";

/** Models and endpoints synced from config.yaml (secrets stay in the config, never here). */
export const models = pgTable("models", {
  name: text("name").primaryKey(),
  disabled: boolean("disabled").notNull().default(false),
  removedAt: ts("removed_at"),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

export const endpoints = pgTable(
  "endpoints",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    model: text("model")
      .notNull()
      .references(() => models.name, { onDelete: "cascade" }),
    url: text("url").notNull(),
    upstreamModel: text("upstream_model"),
    healthy: boolean("healthy"),
    lastCheckAt: ts("last_check_at"),
    lastError: text("last_error"),
  },
  (t) => [uniqueIndex("endpoints_model_url_idx").on(t.model, t.url, t.upstreamModel)],
);
