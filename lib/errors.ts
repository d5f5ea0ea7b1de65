/** The closed vocabulary of domain failures; adapters map them to HTTP statuses and UI messages. */
export type DomainErrorCode = "unauthenticated" | "forbidden" | "not_found" | "invalid" | "conflict";

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** Field name → messages, for forms. */
    readonly fieldErrors?: Record<string, string[]>,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const forbidden = (message = "You are not allowed to do that.") => new DomainError("forbidden", message);
export const notFound = (message = "Not found.") => new DomainError("not_found", message);

export function isDomainError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}
