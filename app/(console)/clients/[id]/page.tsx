import type { Metadata } from "next";
import Link from "next/link";
import { cache } from "react";
import { notFound, redirect } from "next/navigation";
import { ArrowLeft } from "lucide-react";
import { currentViewer } from "@/lib/auth/session";
import { getDb } from "@/lib/db/client";
import { findVisibleClient } from "@/lib/clients/queries";
import { Badge } from "@/components/ui/badge";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { LocalDate } from "@/components/clients/local-date";
import { ClientSections } from "@/components/client-detail/sections";
import { ActivationButton } from "@/components/client-detail/activation-button";

type Props = {
  params: Promise<{ id: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
};

/** The client if the signed-in viewer may see it; once per request (the title and the page both ask). */
const visibleClient = cache(async (id: string) => {
  const viewer = await currentViewer();
  return { viewer, client: viewer ? await findVisibleClient(await getDb(), viewer, id) : null };
});

async function load(id: string) {
  const { viewer, client } = await visibleClient(id);
  if (!viewer) redirect(`/signin?callbackUrl=${encodeURIComponent(`/clients/${id}`)}`);
  if (!client) notFound();
  return { viewer, client };
}

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { client } = await visibleClient((await params).id);
  return { title: client ? client.name : "Client" };
}

export default async function ClientPage({ params, searchParams }: Props) {
  const { id } = await params;
  const sp = await searchParams;
  const { viewer, client } = await load(id);

  return (
    <div className="space-y-6">
      <div>
        <Link
          href="/clients"
          className="inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground"
        >
          <ArrowLeft className="size-4" aria-hidden /> Clients
        </Link>
        <div className="mt-2 flex flex-wrap items-center gap-3">
          <h1 className="text-2xl font-semibold tracking-tight break-all" data-testid="client-name">
            {client.name}
          </h1>
          {client.active ? (
            <Badge variant="success">Active</Badge>
          ) : (
            <Badge variant="destructive">Deactivated</Badge>
          )}
          {viewer.isAdmin && (
            <div className="ml-auto">
              <ActivationButton clientId={client.id} clientName={client.name} active={client.active} />
            </div>
          )}
        </div>
        <p className="mt-1 text-sm text-muted-foreground">
          Created <LocalDate iso={client.createdAt.toISOString()} withTime />
        </p>
      </div>

      {sp.created === "1" && sp.config === "manual" && (
        <Alert variant="warning" role="status">
          <AlertTitle>Add this client to config.yaml by hand</AlertTitle>
          <AlertDescription>
            The client was created, but config.yaml could not be written. Add the entry{" "}
            <code className="rounded bg-muted px-1">{`${JSON.stringify(client.name)}: {}`}</code> under{" "}
            <code className="rounded bg-muted px-1">clients:</code> to give it its own coin budget and model access.
          </AlertDescription>
        </Alert>
      )}
      {sp.created === "1" && sp.config !== "manual" && (
        <Alert role="status">
          <AlertTitle>Client created</AlertTitle>
          <AlertDescription>
            An empty entry for it was added to config.yaml, so it uses the default coin pool and model access until you
            change it there. Next, add managers and create an API key.
          </AlertDescription>
        </Alert>
      )}

      <ClientSections client={client} viewer={viewer} searchParams={sp} />
    </div>
  );
}
