"use client";

import { useActionState } from "react";
import { devSignIn, type DevSignInState } from "@/app/(auth)/signin/actions";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { FieldError } from "@/components/ui/field-error";

export function DevSignInForm({ callbackUrl }: { callbackUrl: string }) {
  const [state, action, pending] = useActionState<DevSignInState, FormData>(devSignIn, {});
  return (
    <form action={action} className="space-y-4" noValidate>
      <input type="hidden" name="callbackUrl" value={callbackUrl} />
      <p className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-xs text-amber-900">
        Development sign-in: any e-mail, no password. Turn it off in production.
      </p>
      <div className="space-y-2">
        <Label htmlFor="email">E-mail</Label>
        <Input
          id="email"
          name="email"
          type="email"
          autoComplete="email"
          autoFocus
          required
          defaultValue={state.values?.email}
          aria-invalid={Boolean(state.errors?.email)}
          aria-describedby={state.errors?.email ? "email-error" : undefined}
        />
        <FieldError id="email-error" errors={state.errors?.email} />
      </div>
      <div className="space-y-2">
        <Label htmlFor="name">
          Name <span className="font-normal text-muted-foreground">(optional)</span>
        </Label>
        <Input id="name" name="name" autoComplete="name" defaultValue={state.values?.name} />
        <FieldError id="name-error" errors={state.errors?.name} />
      </div>
      <FieldError id="form-error" errors={state.errors?.form} />
      <Button type="submit" className="w-full" disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </Button>
    </form>
  );
}
