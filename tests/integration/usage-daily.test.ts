import { describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { clientDailyUsage } from "@/lib/db/schema";
import { clientDailyUsageSeries } from "@/lib/clients/usage-daily";
import { backends, useBackend } from "../helpers/backend";
import { insertClient } from "../helpers/fixtures";

describe.each(backends())("daily usage series on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));

  it("returns 30 UTC days, only this client's rows, inside the window", async () => {
    const a = await insertClient(db, "chart-a");
    const b = await insertClient(db, "chart-b");
    const now = new Date("2026-03-31T23:30:00Z");
    await db.insert(clientDailyUsage).values([
      { clientId: a.id, day: "2026-03-31", model: "echo", requests: 3, inputTokens: 10, outputTokens: 5, coinsSpent: "0.000015" },
      { clientId: a.id, day: "2026-03-31", model: "llama3", requests: 1, inputTokens: 1, outputTokens: 1, coinsSpent: "1.5" },
      { clientId: a.id, day: "2026-03-02", model: "echo", requests: 2, inputTokens: 0, outputTokens: 0, coinsSpent: "0" },
      { clientId: a.id, day: "2026-03-01", model: "echo", requests: 99, inputTokens: 0, outputTokens: 0, coinsSpent: "0" },
      { clientId: b.id, day: "2026-03-31", model: "echo", requests: 7, inputTokens: 0, outputTokens: 0, coinsSpent: "0" },
    ]);
    const s = await clientDailyUsageSeries(db, a.id, 30, now);
    expect(s.days).toHaveLength(30);
    expect(s.days[0]).toBe("2026-03-02");
    expect(s.days.at(-1)).toBe("2026-03-31");
    expect(s.models).toEqual(["echo", "llama3"]);
    expect(s.rows).toEqual([
      { day: "2026-03-02", model: "echo", requests: 2, tokens: 0, coins: "0.000000" },
      { day: "2026-03-31", model: "echo", requests: 3, tokens: 15, coins: "0.000015" },
      { day: "2026-03-31", model: "llama3", requests: 1, tokens: 2, coins: "1.500000" },
    ]);
  });
});
