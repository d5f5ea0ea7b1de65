import { redirect } from "next/navigation";
import { currentViewer } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { isDbUnavailable } from "@/lib/db/errors";
import { exportCsv, type ExportKind } from "@/lib/exports/csv";
import { errorFields, log } from "@/lib/log";

type Context = { params: Promise<{ id: string }> };

/**
 * GET /clients/[id]/export/<kind>.csv?from=&to= — authorized like the detail page: signed out → sign-in
 * and back, a client the viewer may not see → 404 (lib/exports/csv.ts checks it from the database).
 */
export function exportRoute(kind: ExportKind) {
  return async function GET(request: Request, { params }: Context): Promise<Response> {
    const { id } = await params;
    const url = new URL(request.url);
    const viewer = await currentViewer();
    if (!viewer) redirect(`/signin?callbackUrl=${encodeURIComponent(url.pathname + url.search)}`);
    try {
      return await exportCsv(await getDb(), viewer, id, kind, {
        from: url.searchParams.get("from"),
        to: url.searchParams.get("to"),
      });
    } catch (err) {
      const unavailable = isDbUnavailable(err);
      log.error("csv export could not start", { clientId: id, kind, ...errorFields(err) });
      return new Response(unavailable ? "The database is unreachable right now. Try again shortly." : "The export failed. Try again.", {
        status: unavailable ? 503 : 500,
        headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
      });
    }
  };
}
