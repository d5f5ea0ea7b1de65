/**
 * The echo model's audio endpoints: a deterministic "transcription" naming the file and how long it
 * plays (read from its headers, audio-duration.ts; 0 s when its format is not one read there), in the
 * `response_format` asked for — json (default), verbose_json, text, srt or vtt — with
 * `usage: {type: "duration", seconds}` (whole seconds, rounded up, as OpenAI reports it) in the JSON
 * formats.
 */
import { audioDuration } from "./audio-duration";
import { badRequest, json, sleep } from "./echo-shared";
import { formField } from "./multipart";
import type { AudioPath, AudioUpload } from "./upstream-interface";

/** 00:00:03,200 (srt) or 00:00:03.200 (vtt). */
function timestamp(seconds: number, separator: "," | "."): string {
  const ms = Math.round(seconds * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${separator}${pad(ms % 1000, 3)}`;
}

export async function echoAudio(path: AudioPath, form: AudioUpload, latencyMs: number, signal: AbortSignal): Promise<Response> {
  const format = formField(form, "response_format") ?? "json";
  if (!["json", "verbose_json", "text", "srt", "vtt"].includes(format)) {
    return badRequest("'response_format' must be one of json, verbose_json, text, srt, vtt.", "response_format");
  }
  await sleep(latencyMs, signal);
  const translate = path === "/audio/translations";
  const seconds = Math.round((audioDuration(form.file)?.seconds ?? 0) * 1000) / 1000;
  const prompt = formField(form, "prompt");
  const text = `Echo ${translate ? "translation" : "transcription"} of ${form.file.filename}: ${seconds.toFixed(3)} seconds of audio${
    prompt ? ` (prompt: ${prompt})` : ""
  }.`;
  const usage = { type: "duration", seconds: Math.ceil(seconds) };
  const plain = (body: string, type: string) => new Response(body, { status: 200, headers: { "content-type": `${type}; charset=utf-8` } });
  switch (format) {
    case "text":
      return plain(`${text}\n`, "text/plain");
    case "srt":
      return plain(`1\n${timestamp(0, ",")} --> ${timestamp(seconds, ",")}\n${text}\n\n`, "text/plain");
    case "vtt":
      return plain(`WEBVTT\n\n${timestamp(0, ".")} --> ${timestamp(seconds, ".")}\n${text}\n\n`, "text/vtt");
    case "verbose_json":
      return json(200, {
        task: translate ? "translate" : "transcribe",
        language: translate ? "english" : (formField(form, "language") ?? "english"),
        duration: seconds,
        text,
        segments: [
          { id: 0, seek: 0, start: 0, end: seconds, text, tokens: [], temperature: 0, avg_logprob: 0, compression_ratio: 1, no_speech_prob: 0 },
        ],
        usage,
      });
    default:
      return json(200, { text, usage });
  }
}
