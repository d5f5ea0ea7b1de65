import { exportRoute } from "../handler";

/** Daily usage per model and key for a range of UTC days, as CSV (lib/exports/csv.ts). */
export const GET = exportRoute("usage");
export const dynamic = "force-dynamic";
