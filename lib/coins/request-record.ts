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
  /** The true cost (requestCost), 6-decimal text. */
  coins: string;
  /** Seconds of audio (transcriptions, translations), to the millisecond; absent or 0 for text requests. */
  audioSeconds?: number;
  durationMs: number;
  ttftMs: number | null;
  streamed: boolean;
  /** True when the upstream reported no (usable) usage and the tokens were counted by Lumen. */
  usageEstimated: boolean;
  errorCode: string | null;
  /**
   * When the request is logged (request_log.created_at, the log's partition key). Part of the unique key
   * with `settlementId`, so every attempt to settle one record must carry the same value: SettleQueue
   * stamps it once, before the first attempt. Required with `settlementId` in a direct settle(); absent
   * (with no settlement id either), this process's clock then.
   */
  at?: Date;
}

/** What happened upstream: the part of a record the pipeline learns when the request ends. */
export type Outcome = Pick<
  RequestRecord,
  "status" | "inputTokens" | "outputTokens" | "usageEstimated" | "streamed" | "ttftMs" | "errorCode" | "audioSeconds"
> & {
  /**
   * Whether `audioSeconds` are billed at the model's audio_cost_per_hour: true when the upstream
   * reported a duration or no usage at all; false (recorded, not billed) when it reported tokens.
   */
  billAudio?: boolean;
};
