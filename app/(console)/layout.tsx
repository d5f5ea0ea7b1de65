import Link from "next/link";
import { redirect } from "next/navigation";
import { currentViewer, viewerCanUseClients } from "@/lib/auth/session";
import { getConfig } from "@/lib/config";
import { UserMenu } from "@/components/auth/user-menu";

export default async function ConsoleLayout({ children }: { children: React.ReactNode }) {
  const viewer = await currentViewer();
  if (!viewer) redirect("/signin");
  const showClients = await viewerCanUseClients(viewer);
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
          <div className="ml-auto">
            <UserMenu name={viewer.user.name} email={viewer.user.email} isAdmin={viewer.isAdmin} />
          </div>
        </div>
      </header>
      <main className="mx-auto max-w-7xl px-4 py-8 sm:px-6">{children}</main>
    </div>
  );
}
