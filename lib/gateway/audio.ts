/**
 * The audio endpoints (POST /v1/audio/transcriptions and /v1/audio/translations): the multipart upload
 * (multipart.ts, 25 MB), its fields checked, the estimate, and the bill (SPEC §5).
 *
 * Billing, in this order:
 * 1. `usage: {type: "duration", seconds}` → seconds × the model's `audio_cost_per_hour` / 3600;
 * 2. token usage (`input_tokens`, `output_tokens`, as gpt-4o-transcribe reports) → the token prices
 *    (the audio seconds are still counted, not billed);
 * 3. no usage → the `duration` of a verbose_json answer, else the duration read from the file's
 *    headers (WAV, MP3, FLAC: audio-duration.ts), else the file's size at 16 kB/s (128 kbit/s) — billed
 *    per second, marked estimated.
 * The audio seconds of every request go to the counters (client, key, model, day).
 *
 * The reservation is the upper bound: the file's duration (+5 % and a second) when its headers are
 * read, else its size at 1 kB/s (8 kbit/s, below any speech codec in use), at the audio price; plus,
 * for models with token prices, the `prompt` field and AUDIO_INPUT_TOKENS_PER_SECOND input and
 * AUDIO_OUTPUT_TOKENS_PER_SECOND output tokens a second. Billed seconds never exceed the bound (so a
 * request costs at most its reservation, as for text); token-billed audio is billed as reported.
 */
import { z } from "zod";
import { requestCost } from "@/lib/coins/cost";
import type { ModelConfig } from "@/lib/config/schema";
import { log } from "@/lib/log";
import { readCapped, responseLimitBytes, thrownAnswer } from "./answers";
import { audioDuration } from "./audio-duration";
import { validateBody } from "./body";
import { errorAnswer, upstreamAnswerTooLarge, upstreamError } from "./errors";
import { jsonAnswer, textAnswer, type TextAnswer } from "./answer";
import { readAudioUpload } from "./multipart";
import type { GatewayRequest } from "./request";
import type { Admitted, Outcome, Settlement } from "./settlement";
import { FRAMING_TOKENS } from "./tokens";
import type { AudioUpload, Upstream, UpstreamAnswer } from "./upstream-interface";
import type { UpstreamDeadline } from "./upstream";
import { audioUsage, noUsage } from "./usage";

/** Estimate only (models priced per token): audio input tokens a second (OpenAI's audio models use ~10). */
export const AUDIO_INPUT_TOKENS_PER_SECOND = 25;
/** Estimate only: transcript tokens a second (fast speech is ~4). */
export const AUDIO_OUTPUT_TOKENS_PER_SECOND = 10;
/** Bytes a second assumed for a file whose duration is not read: the bound (reservation) and the typical (bill). */
const BOUND_BYTES_PER_SECOND = 1_000;
const TYPICAL_BYTES_PER_SECOND = 16_000;

const RESPONSE_FORMATS = ["json", "verbose_json", "text", "srt", "vtt"] as const;
export type AudioResponseFormat = (typeof RESPONSE_FORMATS)[number];

const numberText = (min: number, max: number) =>
  z.string().refine((v) => v.trim() !== "" && Number.isFinite(Number(v)) && Number(v) >= min && Number(v) <= max, {
    error: `expected a number from ${min} to ${max}`,
  });

/** The form fields Lumen reads; every other field is forwarded untouched. */
const audioFieldsSchema = z.looseObject(
  {
    model: z.string({ error: "expected a string (the model name)" }).min(1, { error: "expected a non-empty string (the model name)" }),
    language: z.string().max(32, { error: "expected a language code, e.g. en" }).optional(),
    prompt: z.string().optional(),
    response_format: z.enum(RESPONSE_FORMATS, { error: `expected one of ${RESPONSE_FORMATS.join(", ")}` }).optional(),
    temperature: numberText(0, 1).optional(),
    stream: z
      .string()
      .refine((v) => v !== "true", { error: "streamed transcriptions are not served here; leave `stream` out" })
      .optional(),
  },
  { error: "expected form fields" },
);

/** How long the upload plays, as far as Lumen can tell before the upstream answers. */
export interface AudioSeconds {
  /** From the file's headers; null when its format is not read. */
  read: number | null;
  /** At most this long: the reservation, and the cap of a bill. */
  bound: number;
  /** About this long: billed when nothing better is known. */
  typical: number;
}

export function audioSecondsOf(file: AudioUpload["file"]): AudioSeconds {
  const read = audioDuration(file)?.seconds ?? null;
  if (read !== null) return { read, bound: Math.ceil(read * 1.05) + 1, typical: read };
  return { read: null, bound: file.size / BOUND_BYTES_PER_SECOND, typical: file.size / TYPICAL_BYTES_PER_SECOND };
}

export interface AudioPlan {
  model: string;
  upload: AudioUpload;
  format: AudioResponseFormat;
  seconds: AudioSeconds;
  promptBound: number;
}

/** Reads and checks the upload (413 past 25 MB, 400 naming the field). */
export async function readAudioPlan(request: GatewayRequest): Promise<AudioPlan> {
  const upload = await readAudioUpload(request);
  const fields: Record<string, unknown> = {};
  for (const [name, value] of upload.fields) fields[name] = value;
  const body = validateBody(audioFieldsSchema, fields);
  return {
    model: body.model,
    upload,
    format: body.response_format ?? "json",
    seconds: audioSecondsOf(upload.file),
    promptBound: body.prompt ? Buffer.byteLength(body.prompt) + FRAMING_TOKENS : 0,
  };
}

/** The most an audio request may cost (see the header): what admission reserves. */
export function audioEstimate(model: ModelConfig, plan: AudioPlan): string {
  const s = plan.seconds.bound;
  return requestCost(model, {
    inputTokens: plan.promptBound + Math.ceil(s * AUDIO_INPUT_TOKENS_PER_SECOND),
    outputTokens: Math.ceil(s * AUDIO_OUTPUT_TOKENS_PER_SECOND),
    audioSeconds: s,
    billAudio: true,
  });
}

/** The bill of an answer (see the header). */
export function audioOutcome(answer: unknown, plan: AudioPlan, where: Record<string, unknown>): Outcome {
  const body = typeof answer === "object" && answer !== null ? (answer as Record<string, unknown>) : {};
  const usage = audioUsage(body.usage);
  const base = { status: 200, streamed: false, ttftMs: null, errorCode: null };
  const cap = (seconds: number, estimated: boolean) => {
    if (seconds <= plan.seconds.bound) return { seconds, estimated };
    log.warn("upstream reported more audio than the file holds; billed at the bound", { ...where, seconds, bound: plan.seconds.bound });
    return { seconds: plan.seconds.bound, estimated: true };
  };
  const verboseDuration = typeof body.duration === "number" && Number.isFinite(body.duration) && body.duration >= 0 ? body.duration : null;
  if (usage?.kind === "duration") {
    const billed = cap(usage.seconds, false);
    return { ...base, inputTokens: 0, outputTokens: 0, audioSeconds: billed.seconds, billAudio: true, usageEstimated: billed.estimated };
  }
  if (usage?.kind === "tokens") {
    const seconds = Math.min(verboseDuration ?? plan.seconds.read ?? plan.seconds.typical, plan.seconds.bound);
    return { ...base, inputTokens: usage.input, outputTokens: usage.output, audioSeconds: seconds, billAudio: false, usageEstimated: false };
  }
  const billed = cap(verboseDuration ?? plan.seconds.read ?? plan.seconds.typical, true);
  return { ...base, inputTokens: 0, outputTokens: 0, audioSeconds: billed.seconds, billAudio: true, usageEstimated: true };
}

const TEXT_TYPES: Record<string, string> = { text: "text/plain; charset=utf-8", srt: "text/plain; charset=utf-8", vtt: "text/vtt; charset=utf-8" };

/** A transcription's answer forwarded as it is (JSON, or text for text/srt/vtt), billed per audioOutcome. */
export async function forwardAudio(
  settlement: Settlement,
  ctx: Admitted,
  deadline: UpstreamDeadline,
  upstream: Upstream,
  response: UpstreamAnswer,
  plan: AudioPlan,
  settleInTime: (work: Promise<void>) => Promise<void>,
): Promise<TextAnswer> {
  const where = { model: ctx.model.name, endpoint: upstream.label };
  let text: string | null;
  try {
    text = await ctx.scope.upstream(readCapped(response, responseLimitBytes(ctx)));
  } catch (err) {
    if (deadline.cause) return thrownAnswer(settlement, ctx, deadline, err, false);
    log.warn("upstream answer cut off", where);
    await settlement.settle(noUsage(502, "upstream_error", false), upstream);
    return errorAnswer(upstreamError());
  }
  if (text === null) {
    log.warn("upstream answer too large; cut off", { ...where, limitMb: ctx.config.api.max_response_mb });
    const outcome = { ...noUsage(502, "upstream_answer_too_large", false), audioSeconds: plan.seconds.typical, billAudio: true, usageEstimated: true };
    await settleInTime(settlement.settle(outcome, upstream));
    return errorAnswer(upstreamAnswerTooLarge());
  }
  const isJson = (response.header("content-type") ?? "").includes("json") || plan.format === "json" || plan.format === "verbose_json";
  let parsed: unknown = null;
  if (isJson) {
    try {
      parsed = JSON.parse(text);
    } catch {
      if (plan.format === "json" || plan.format === "verbose_json") {
        log.warn("upstream answered invalid JSON", where);
        await settlement.settle(noUsage(502, "upstream_invalid_answer", false), upstream);
        return errorAnswer(upstreamError());
      }
    }
  }
  await settleInTime(settlement.settle(audioOutcome(parsed, plan, where), upstream));
  if (parsed !== null) return jsonAnswer(text, 200);
  return textAnswer(text, 200, { "content-type": TEXT_TYPES[plan.format] ?? "text/plain; charset=utf-8" });
}
