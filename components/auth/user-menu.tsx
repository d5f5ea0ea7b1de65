"use client";

import { useTransition } from "react";
import { ChevronDown, LogOut, MonitorX } from "lucide-react";
import { signOutAction, signOutEverywhereAction } from "@/app/(console)/actions";
import { Badge } from "@/components/ui/badge";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuLabel,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";

/** The signed-in person in the header: who they are, and the two ways to sign out. */
export function UserMenu({ name, email, isAdmin }: { name: string | null; email: string; isAdmin: boolean }) {
  const [pending, startTransition] = useTransition();
  return (
    <DropdownMenu>
      <DropdownMenuTrigger
        className="flex items-center gap-2 rounded-md px-2 py-1 text-sm outline-hidden hover:bg-accent focus-visible:ring-2 focus-visible:ring-ring disabled:opacity-50"
        disabled={pending}
        data-testid="user-menu"
      >
        <span className="hidden sm:inline" data-testid="signed-in-user">
          {name && <span className="font-medium">{name} </span>}
          <span className="text-muted-foreground">{email}</span>
        </span>
        <span className="sm:hidden">Account</span>
        {isAdmin && <Badge variant="secondary">Admin</Badge>}
        <ChevronDown className="size-4 text-muted-foreground" aria-hidden />
      </DropdownMenuTrigger>
      <DropdownMenuContent align="end" className="w-64">
        <DropdownMenuLabel>
          <div className="truncate font-medium">{name ?? email}</div>
          {name && <div className="truncate text-xs font-normal text-muted-foreground">{email}</div>}
        </DropdownMenuLabel>
        <DropdownMenuSeparator />
        <DropdownMenuItem onSelect={() => startTransition(() => signOutAction())}>
          <LogOut aria-hidden /> Sign out
        </DropdownMenuItem>
        <DropdownMenuItem onSelect={() => startTransition(() => signOutEverywhereAction())}>
          <MonitorX aria-hidden />
          <span>
            Sign out everywhere
            <span className="block text-xs text-muted-foreground">Ends your sessions in every browser</span>
          </span>
        </DropdownMenuItem>
      </DropdownMenuContent>
    </DropdownMenu>
  );
}
