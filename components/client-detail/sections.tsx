import { Suspense } from "react";
import type { Viewer } from "@/lib/auth/permissions";
import type { ClientHeader } from "@/lib/clients/queries";
import { UsageCards } from "./usage-cards";
import { UsageOverTime } from "./usage-over-time";
import { ManagersSection } from "./managers-section";
import { ApiKeysSection } from "./api-keys-section";
import { RecentRequestsSection, RecentRequestsSkeleton } from "./recent-requests-section";
import { ModelAccessSection } from "./model-access-section";
import { ActivitySection, ActivitySkeleton } from "./activity-section";
import { ConnectSection } from "./connect-section";

export interface SectionProps {
  client: ClientHeader;
  viewer: Viewer;
  searchParams: Record<string, string | string[] | undefined>;
}

/**
 * The detail page's sections, in page order. Each section loads its own data on the server; the two
 * logs (recent requests, activity) stream in behind a skeleton so the rest of the page never waits for them.
 */
export async function ClientSections(props: SectionProps) {
  return (
    <>
      <UsageCards {...props} />
      <UsageOverTime {...props} />
      <ApiKeysSection {...props} />
      <Suspense fallback={<RecentRequestsSkeleton />}>
        <RecentRequestsSection {...props} />
      </Suspense>
      <ManagersSection {...props} />
      <ModelAccessSection {...props} />
      <Suspense fallback={<ActivitySkeleton />}>
        <ActivitySection {...props} />
      </Suspense>
      <ConnectSection {...props} />
    </>
  );
}
