import Link from "next/link";

export default function NotFound() {
  return (
    <div className="mx-auto max-w-lg py-16 text-center">
      <h1 className="text-2xl font-semibold tracking-tight">Not found</h1>
      <p className="mt-3 text-muted-foreground">This page does not exist, or you do not have access to it.</p>
      <p className="mt-6">
        <Link href="/clients" className="text-sm underline underline-offset-4">
          Back to Clients
        </Link>
      </p>
    </div>
  );
}
