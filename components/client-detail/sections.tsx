import type { Viewer } from "@/lib/auth/permissions";
import type { ClientHeader } from "@/lib/clients/queries";

export interface SectionProps {
  client: ClientHeader;
  viewer: Viewer;
  searchParams: Record<string, string | string[] | undefined>;
}

/** The detail page's sections, in page order. Each section loads its own data on the server. */
export async function ClientSections(_props: SectionProps) {
  return null;
}
