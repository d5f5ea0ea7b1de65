import { forbidden, redirect } from "next/navigation";
import { currentViewer, viewerCanUseClients } from "@/lib/auth/session";

/**
 * The access check lives in a layout, outside the page's loading boundary, so a refused visitor gets
 * a real 403 status instead of a streamed 200.
 */
export default async function ClientsListLayout({ children }: { children: React.ReactNode }) {
  const viewer = await currentViewer();
  if (!viewer) redirect("/signin?callbackUrl=/clients");
  if (!(await viewerCanUseClients(viewer))) forbidden();
  return children;
}
