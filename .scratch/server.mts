import * as m from "../tests/e2e/global-setup.ts";
const setup = (m as any).default?.default ?? (m as any).default;
const provided: Record<string, unknown> = {};
const teardown = await setup({ provide: (k: string, v: unknown) => { provided[k] = v; } } as never);
console.log(JSON.stringify(provided));
process.on("SIGTERM", async () => { await teardown(); process.exit(0); });
setInterval(() => {}, 1 << 30);
