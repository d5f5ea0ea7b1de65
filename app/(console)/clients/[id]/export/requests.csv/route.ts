import { exportRoute } from "../handler";

/** The raw request log for a range of UTC days, as CSV (lib/exports/csv.ts). */
export const GET = exportRoute("requests");
export const dynamic = "force-dynamic";
