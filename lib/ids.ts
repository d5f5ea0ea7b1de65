const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids in URLs and forms are checked before they reach SQL (a malformed uuid would be a query error). */
export const isUuid = (id: unknown): id is string => typeof id === "string" && UUID.test(id);
