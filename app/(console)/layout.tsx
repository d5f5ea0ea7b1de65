import Link from "next/link";
import { redirect } from "next/navigation";
import { currentViewer } from "@/lib/auth/session";
import { canUseClientsSection } from "@/lib/auth/permissions";
import { getConfig } from "@/lib/config";
import { getDb } from "@/lib/db/client";
import { Button } from "@/components/ui/button";
import { Badge } from "@/components/ui/badge";
import { signOutAction } from "./actions";

export default async function ConsoleLayout({ children }: { children: React.ReactNode }) {
  const viewer = await currentViewer();
  if (!viewer) redirect("/signin");
  const showClients = await canUseClientsSection(await getDb(), viewer);
  const appName = getConfig().app.name;

  return (
    <div className="min-h-screen bg-muted/30">
      <header className="border-b bg-background">
        <div className="mx-auto flex h-14 max-w-7xl items-center gap-6 px-4 sm:px-6">
          <Link href="/" className="font-semibold tracking-tight">
            {appName}
          </Link>
          <nav aria-label="Main" className="flex items-center gap-4 text-sm">
            {showClients && (
              <Link href="/clients" className="text-muted-foreground hover:text-foreground">
                Clients
              </Link>
            )}
          </nav>
          <div className="ml-auto flex items-center gap-3 text-sm">
            <span className="hidden sm:inline" data-testid="signed-in-user">
              {viewer.user.name && <span className="font-medium">{viewer.user.name} </span>}
              <span className="text-muted-foreground">{viewer.user.email}</span>
            </span>
            {viewer.isAdmin && <Badge variant="secondary">Admin</Badge>}
            <form action={signOutAction}>
              <Button type="submit" variant="outline" size="sm">
                Sign out
              </Button>
            </form>
          </div>
        </div>
      </header>
      <main className="mx-auto max-w-7xl px-4 py-8 sm:px-6">{children}</main>
    </div>
  );
}
