/**
 * Imported FIRST by server.ts, for its side effect: when the embedded database will be used (no
 * DATABASE_URL), starts compiling PGlite's WebAssembly (9 MB) at once. V8 compiles it on its background
 * threads while the main thread loads Lumen's modules and config.yaml; openDatabase() (lib/db/client.ts)
 * then hands the compiled module to PGlite (`pgliteWasmModule`), which would otherwise read and compile
 * it only when the database opens — on the start-up's critical path (bench/startup.ts).
 *
 * Every start compiles: Node 20 cannot keep a compiled module across processes (v8.serialize of a
 * WebAssembly.Module writes an empty record that does not deserialize), so this only moves the work
 * earlier. The file is read synchronously on purpose: the module loading that follows is synchronous
 * too, and a callback would not run before it ends.
 */
import fs from "node:fs";
import path from "node:path";
import { processState } from "@/lib/process-state";

function warm(): void {
  if (process.env.DATABASE_URL?.trim()) return;
  const state = processState();
  if (state.pgliteWasm) return;
  try {
    const file = path.join(path.dirname(require.resolve("@electric-sql/pglite")), "pglite.wasm");
    const compiling = WebAssembly.compile(fs.readFileSync(file)).catch(() => null);
    state.pgliteWasm = compiling;
  } catch {
    // PGlite reads and compiles it itself when the database opens.
  }
}

warm();
