import { authRouteHandler } from "@/lib/auth";

export const GET = authRouteHandler;
export const POST = authRouteHandler;
