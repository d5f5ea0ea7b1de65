import type { Viewer } from "@/lib/auth/permissions";
import type { ClientHeader } from "@/lib/clients/queries";

/** What every section of the client detail page gets (sections.tsx renders them in order). */
export interface SectionProps {
  client: ClientHeader;
  viewer: Viewer;
  searchParams: Record<string, string | string[] | undefined>;
}
