import os from "node:os";
import { describe, expect, it } from "vitest";
import { workerCount, workersRefusal } from "@/lib/workers";

describe("gateway workers (lib/workers.ts)", () => {
  it("reads --workers over LUMEN_WORKERS; 1 by default; auto = one per CPU", () => {
    expect(workerCount(undefined, undefined)).toBe(1);
    expect(workerCount(undefined, " ")).toBe(1);
    expect(workerCount(undefined, "2")).toBe(2);
    expect(workerCount("3", "2")).toBe(3);
    expect(workerCount("auto", undefined)).toBe(os.availableParallelism());
    for (const bad of ["0", "-1", "1.5", "two", "1000"]) expect(() => workerCount(bad, undefined)).toThrow(/invalid worker count/);
  });

  it("refuses several workers without a PostgreSQL DATABASE_URL (PGlite is one process's)", () => {
    expect(workersRefusal(1, {})).toBeNull();
    expect(workersRefusal(2, { DATABASE_URL: "postgres://x@127.0.0.1/db" })).toBeNull();
    expect(workersRefusal(2, {})).toMatch(/2 workers need a PostgreSQL database .* set DATABASE_URL/);
    expect(workersRefusal(4, { DATABASE_URL: "  " })).toMatch(/PGlite\) can be opened by one process only/);
  });
});
