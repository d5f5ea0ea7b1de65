/**
 * One request as Lumen records it — the one shape from the gateway's pipeline to settlement (the
 * request-log row and the counters), the metrics and the logs.
 */
export interface RequestRecord {
  /**
   * Lumen's id of the request (uuid, made at admission): the request log's unique key. Settling a
   * record whose id is already logged changes nothing, so a retry after an uncertain commit is safe.
   * Absent: a new id is made once, when the settlement is queued.
   */
  settlementId?: string;
  /** The x-request-id the caller saw (its own, or the settlement id). */
  requestId?: string | null;
  clientId: string;
  /** For metrics and logs (not stored in the request log). */
  clientName: string;
  keyId: string | null;
  model: string;
  endpoint: string | null;
  status: number;
  inputTokens: number;
  outputTokens: number;
  /** The true cost (costOf), 6-decimal text. */
  coins: string;
  durationMs: number;
  ttftMs: number | null;
  streamed: boolean;
  /** True when the upstream reported no (usable) usage and the tokens were counted by Lumen. */
  usageEstimated: boolean;
  errorCode: string | null;
  /** Defaults to the database clock. */
  at?: Date;
}

/** What happened upstream: the part of a record the pipeline learns when the request ends. */
export type Outcome = Pick<
  RequestRecord,
  "status" | "inputTokens" | "outputTokens" | "usageEstimated" | "streamed" | "ttftMs" | "errorCode"
>;
