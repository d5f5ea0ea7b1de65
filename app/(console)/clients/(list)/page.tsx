import type { Metadata } from "next";
import Link from "next/link";
import { forbidden, redirect } from "next/navigation";
import { Inbox, SearchX } from "lucide-react";
import { currentViewer, viewerCanUseClients } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { listClients } from "@/lib/clients/queries";
import { clientListHref, parseClientListParams } from "@/lib/clients/list-params";
import { Card, CardContent } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { SummaryCards } from "@/components/clients/summary-cards";
import { ClientsTable } from "@/components/clients/clients-table";
import { ClientsSearch } from "@/components/clients/clients-search";
import { Pagination } from "@/components/clients/pagination";
import { NewClientDialog } from "@/components/clients/new-client-dialog";

export const metadata: Metadata = { title: "Clients" };

export default async function ClientsPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const viewer = await currentViewer();
  if (!viewer) redirect("/signin?callbackUrl=/clients");
  if (!(await viewerCanUseClients(viewer))) forbidden();

  const params = parseClientListParams(await searchParams);
  const list = await listClients(await getDb(), viewer, params);
  const noClients = list.summary.totalClients === 0;

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">Clients</h1>
          <p className="mt-1 max-w-2xl text-sm text-muted-foreground">
            Named identities for services and automated tools, each with its own API keys, coin pool and usage.
            {viewer.isAdmin ? " You see every client as an administrator." : " You see the clients you manage."}
          </p>
        </div>
        {viewer.isAdmin && <NewClientDialog />}
      </div>

      <SummaryCards summary={list.summary} />

      <Card className="py-0">
        <CardContent className="space-y-4 p-4">
          {noClients ? (
            <div className="flex flex-col items-center py-12 text-center" data-testid="empty-clients">
              <Inbox className="mb-3 size-10 text-muted-foreground" aria-hidden />
              <h2 className="text-lg font-medium">No clients yet</h2>
              <p className="mt-1 max-w-md text-sm text-muted-foreground">
                {viewer.isAdmin
                  ? "Create a client for each service or pipeline that calls Lumen, then give it managers and API keys."
                  : "No clients are assigned to you yet."}
              </p>
              {viewer.isAdmin && (
                <div className="mt-4">
                  <NewClientDialog label="Create your first client" />
                </div>
              )}
            </div>
          ) : (
            <>
              <ClientsSearch initial={params.q} />
              {list.total === 0 ? (
                <div className="flex flex-col items-center py-12 text-center" data-testid="empty-search">
                  <SearchX className="mb-3 size-10 text-muted-foreground" aria-hidden />
                  <h2 className="text-lg font-medium">No clients match “{params.q}”</h2>
                  <p className="mt-1 text-sm text-muted-foreground">Check the spelling or search for part of the name.</p>
                  <Button asChild variant="outline" className="mt-4">
                    <Link href={clientListHref({ sort: params.sort, order: params.order })}>Clear search</Link>
                  </Button>
                </div>
              ) : (
                <>
                  <ClientsTable rows={list.rows} params={params} />
                  <Pagination
                    params={params}
                    page={list.page}
                    pageCount={list.pageCount}
                    pageSize={list.pageSize}
                    total={list.total}
                    totalExact={list.totalExact}
                  />
                </>
              )}
            </>
          )}
        </CardContent>
      </Card>
    </div>
  );
}
