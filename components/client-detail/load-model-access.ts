import { cache } from "react";
import { clientModelAccess } from "@/lib/access/client-models";
import { getConfig } from "@/lib/config";
import { getDb } from "@/lib/db/client";

/** The client's model access, read once per request (Model access and Connect both show it). */
export const loadClientModelAccess = cache(async (clientId: string, clientName: string) =>
  clientModelAccess(await getDb(), getConfig(), { id: clientId, name: clientName }),
);
