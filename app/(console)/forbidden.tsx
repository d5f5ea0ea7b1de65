import Link from "next/link";
import { ShieldX } from "lucide-react";
import { currentViewer, viewerCanUseClients } from "@/lib/auth/session";
import { signOutAction } from "./actions";

/**
 * The 403 page of the console: for the Clients section refused to someone who manages no client, and for
 * an action refused by `runFormAction` (an admin's action tried by a manager, or a right lost meanwhile).
 */
export default async function Forbidden() {
  const viewer = await currentViewer();
  const hasClients = viewer ? await viewerCanUseClients(viewer) : false;
  return (
    <div className="mx-auto flex max-w-lg flex-col items-center py-16 text-center" data-testid="forbidden">
      <ShieldX className="mb-4 size-10 text-muted-foreground" aria-hidden />
      {hasClients ? (
        <>
          <h1 className="text-2xl font-semibold tracking-tight">You are not allowed to do that</h1>
          <p className="mt-3 text-muted-foreground">
            Nothing was changed. Only administrators, and for some changes the client&apos;s managers, may do this. Ask an
            administrator if you need it done.
          </p>
          <p className="mt-6 text-sm text-muted-foreground">
            Error 403 ·{" "}
            <Link href="/clients" className="underline underline-offset-4 hover:text-foreground">
              Back to Clients
            </Link>
          </p>
        </>
      ) : (
        <>
          <h1 className="text-2xl font-semibold tracking-tight">You don&apos;t manage any clients</h1>
          <p className="mt-3 text-muted-foreground">
            The Clients section is for people who run services and automated tools on Lumen. Your account has not been
            assigned as a manager of any client. Ask an administrator to add you as a manager if you need access.
          </p>
          <form action={signOutAction} className="mt-6 text-sm text-muted-foreground">
            Error 403 ·{" "}
            <button type="submit" className="underline underline-offset-4 hover:text-foreground">
              Sign in with another account
            </button>
          </form>
        </>
      )}
    </div>
  );
}
