import { ShieldX } from "lucide-react";
import { signOutAction } from "./actions";

export default function Forbidden() {
  return (
    <div className="mx-auto flex max-w-lg flex-col items-center py-16 text-center" data-testid="forbidden">
      <ShieldX className="mb-4 size-10 text-muted-foreground" aria-hidden />
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
    </div>
  );
}
