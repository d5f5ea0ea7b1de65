import { forbidden, redirect } from "next/navigation";
import { currentViewer } from "@/lib/auth/session";
import { canUseClientsSection } from "@/lib/auth/permissions";
import { getDb } from "@/lib/db/client";

/**
 * The access check lives in a layout, outside the page's loading boundary, so a refused visitor gets
 * a real 403 status instead of a streamed 200.
 */
export default async function ClientsListLayout({ children }: { children: React.ReactNode }) {
  const viewer = await currentViewer();
  if (!viewer) redirect("/signin?callbackUrl=/clients");
  if (!(await canUseClientsSection(await getDb(), viewer))) forbidden();
  return children;
}
