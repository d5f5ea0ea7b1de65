/**
 * Multipart bodies of the audio endpoints: the caller's upload parsed as it arrives (busboy), and the
 * same upload encoded for an HTTP upstream.
 *
 * The file is held once: busboy hands over its bytes as they arrive, they are kept as those chunks
 * (the 25 MB cap is checked as they come, so a larger upload is refused without reading the rest),
 * and the upstream request sends the same chunks between its multipart head and tail — no second
 * copy, no FormData or Blob. It must be held at all because callers may send the `model` field after
 * the file (the openai npm client and `curl -F file=@… -F model=…` do), and nothing may reach an
 * upstream before the model's access and the coin admission have been decided (SPEC §5).
 */
import { randomBytes } from "node:crypto";
import busboy from "busboy";
import { invalidBody, uploadTooLarge } from "./errors";
import type { GatewayRequest } from "./request";
import type { AudioUpload } from "./upstream-interface";

/** OpenAI's limit for an audio file. */
export const AUDIO_FILE_LIMIT_BYTES = 25 * 1024 * 1024;
/** The whole body: the file plus room for the text fields and the multipart framing. */
export const AUDIO_BODY_LIMIT_BYTES = AUDIO_FILE_LIMIT_BYTES + 1024 * 1024;
const MAX_FIELDS = 32;
const MAX_FIELD_BYTES = 256 * 1024;

/** A media type as sent upstream: a sane `type/subtype`, else application/octet-stream. */
function safeMediaType(value: string | undefined): string {
  return value && /^[\w.+-]{1,64}\/[\w.+-]{1,128}$/.test(value) ? value : "application/octet-stream";
}

/**
 * Reads a multipart/form-data upload with one file. 413 as soon as the file passes 25 MB (or the body
 * its limit); 400 `invalid_body` for anything malformed: not multipart, no file, two files, a field
 * over 256 KB, more than 32 fields.
 */
export async function readAudioUpload(request: GatewayRequest): Promise<AudioUpload> {
  const contentType = request.header("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    throw invalidBody("The request body must be multipart/form-data with a `file` and a `model` field.");
  }
  const declared = Number(request.header("content-length"));
  if (Number.isFinite(declared) && declared > AUDIO_BODY_LIMIT_BYTES) throw uploadTooLarge(AUDIO_FILE_LIMIT_BYTES);

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { "content-type": contentType },
      limits: { fileSize: AUDIO_FILE_LIMIT_BYTES, files: 1, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: MAX_FIELDS + 1 },
      defParamCharset: "utf8",
    });
  } catch {
    throw invalidBody("The multipart/form-data header has no usable boundary.");
  }

  const fields: Array<[string, string]> = [];
  let file: AudioUpload["file"] | null = null;
  let problem: Error | null = null;
  let fileEnded: Promise<void> = Promise.resolve();
  const fail = (err: Error) => {
    problem ??= err;
  };

  parser.on("field", (name, value, info) => {
    if (info.nameTruncated || info.valueTruncated) return fail(invalidBody(`The form field '${name.slice(0, 100)}' is too long.`, name.slice(0, 100)));
    fields.push([name, value]);
  });
  parser.on("file", (name, stream, info) => {
    if (file) {
      stream.resume();
      return fail(invalidBody("Send exactly one file.", name));
    }
    const chunks: Uint8Array[] = [];
    const upload: AudioUpload["file"] = { field: name, filename: info.filename ?? "audio", contentType: safeMediaType(info.mimeType), chunks, size: 0 };
    file = upload;
    stream.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      upload.size += chunk.byteLength;
    });
    stream.on("limit", () => fail(uploadTooLarge(AUDIO_FILE_LIMIT_BYTES)));
    // A body that breaks off mid-file (or a parser destroyed after a refusal) errors the file stream:
    // handled here, never an unhandled 'error' event (which would end the process).
    stream.on("error", () => fail(invalidBody("The multipart/form-data body ended inside the file.", name)));
    fileEnded = new Promise((resolve) => stream.once("end", resolve).once("close", resolve));
  });
  parser.on("filesLimit", () => fail(invalidBody("Send exactly one file.", "file")));
  parser.on("fieldsLimit", () => fail(invalidBody(`At most ${MAX_FIELDS} form fields are accepted.`)));
  parser.on("partsLimit", () => fail(invalidBody(`At most ${MAX_FIELDS + 1} form parts are accepted.`)));
  const parsed = new Promise<void>((resolve) => {
    parser.once("close", resolve);
    // `on`, not `once`: busboy may report more than one error (e.g. after it was destroyed).
    parser.on("error", (err: Error) => {
      fail(invalidBody(`The multipart/form-data body is malformed (${/^[\w\s.-]{1,80}$/.test(err.message) ? err.message : "parse error"}).`));
      resolve();
    });
  });

  let end: "ended" | "too_large";
  try {
    end = await request.streamBody(AUDIO_BODY_LIMIT_BYTES, (chunk) => {
      if (problem) return;
      parser.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
  } catch {
    parser.destroy();
    throw invalidBody("The request body could not be read.");
  }
  if (end === "too_large") {
    parser.destroy();
    throw uploadTooLarge(AUDIO_FILE_LIMIT_BYTES);
  }
  if (problem) {
    parser.destroy();
    throw problem;
  }
  parser.end();
  await parsed;
  await fileEnded;
  if (problem) throw problem;
  if (!file) throw invalidBody("'file' is required: the audio file to transcribe.", "file");
  return { fields, file };
}

/** A quoted-string parameter of Content-Disposition, as browsers encode it. */
function quoted(value: string): string {
  return value.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

/**
 * The upload as a multipart/form-data body for an HTTP upstream: the text fields in the caller's
 * order (`model` replaced by `model` when given: the endpoint's own model id), then the file's own
 * chunks. `length` is exact, so the upstream gets a Content-Length.
 */
export function encodeMultipart(form: AudioUpload, model?: string): { contentType: string; chunks: Uint8Array[]; length: number } {
  const boundary = `----LumenFormBoundary${randomBytes(16).toString("hex")}`;
  let head = "";
  for (const [name, value] of form.fields) {
    const v = name === "model" && model !== undefined ? model : value;
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${v}\r\n`;
  }
  const f = form.file;
  head += `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(f.field)}"; filename="${quoted(f.filename)}"\r\nContent-Type: ${f.contentType}\r\n\r\n`;
  const headBytes = Buffer.from(head, "utf8");
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, "utf8");
  const chunks = [headBytes, ...f.chunks, tail];
  return { contentType: `multipart/form-data; boundary=${boundary}`, chunks, length: headBytes.byteLength + f.size + tail.byteLength };
}

/** The last value of a form field, or undefined. */
export function formField(form: AudioUpload, name: string): string | undefined {
  let found: string | undefined;
  for (const [n, v] of form.fields) if (n === name) found = v;
  return found;
}
