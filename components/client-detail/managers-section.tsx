import { Users } from "lucide-react";
import { listManagers } from "@/lib/clients/managers";
import { getDb } from "@/lib/db/client";
import { Card, CardAction, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import type { SectionProps } from "./section-props";
import { AddManagerDialog } from "./add-manager-dialog";
import { RemoveManagerButton } from "./remove-manager-button";

/** The people assigned to the client. Only admins see the add and remove controls (the actions re-check). */
export async function ManagersSection({ client, viewer }: SectionProps) {
  const managers = await listManagers(await getDb(), client.id);
  const canEdit = viewer.isAdmin;
  return (
    <section aria-labelledby="managers-title" data-testid="managers-section">
      <Card>
        <CardHeader>
          <CardTitle asChild>
            <h2 id="managers-title">Managers</h2>
          </CardTitle>
          <CardDescription>People who can create API keys and view usage for this client.</CardDescription>
          {canEdit && (
            <CardAction>
              <AddManagerDialog clientId={client.id} clientName={client.name} />
            </CardAction>
          )}
        </CardHeader>
        <CardContent>
          {managers.length === 0 ? (
            <div
              className="flex flex-col items-center gap-2 rounded-lg border border-dashed px-4 py-8 text-center text-sm text-muted-foreground"
              data-testid="managers-empty"
            >
              <Users className="size-6" aria-hidden />
              <p>No managers yet. Managers can create API keys and view usage for this client.</p>
            </div>
          ) : (
            <Table data-testid="managers-table">
              <TableHeader>
                <TableRow>
                  <TableHead>Name</TableHead>
                  <TableHead>E-mail</TableHead>
                  {canEdit && (
                    <TableHead className="text-right">
                      <span className="sr-only">Actions</span>
                    </TableHead>
                  )}
                </TableRow>
              </TableHeader>
              <TableBody>
                {managers.map((m) => (
                  <TableRow key={m.userId} data-testid="manager-row">
                    <TableCell className="max-w-xs truncate font-medium">
                      {m.name ?? <span className="font-normal text-muted-foreground">No name</span>}
                    </TableCell>
                    <TableCell className="max-w-xs truncate">{m.email}</TableCell>
                    {canEdit && (
                      <TableCell className="text-right">
                        <RemoveManagerButton
                          clientId={client.id}
                          clientName={client.name}
                          userId={m.userId}
                          name={m.name}
                          email={m.email}
                        />
                      </TableCell>
                    )}
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </CardContent>
      </Card>
    </section>
  );
}
