import { describe, expect, it } from "vitest";
import { audioSecondsOf } from "@/lib/gateway/audio";
import { audioDuration } from "@/lib/gateway/audio-duration";
import { GatewayError } from "@/lib/gateway/errors";
import { AUDIO_FILE_LIMIT_BYTES, encodeMultipart, formField, readAudioUpload } from "@/lib/gateway/multipart";
import { fromFetchRequest } from "@/lib/gateway/request";
import { flacFile, mp3Cbr, mp3Xing, wavFile } from "../helpers/audio";

/** The file as the gateway holds it: the chunks read from the caller, never joined. */
const asChunks = (buf: Buffer, size = 1000) => {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < buf.length; at += size) chunks.push(buf.subarray(at, at + size));
  return { chunks, size: buf.length };
};

describe("audio durations from file headers (WAV, MP3, FLAC)", () => {
  it("WAV: data size over the fmt chunk's byte rate, across chunk boundaries and other chunks", () => {
    expect(audioDuration(asChunks(wavFile(2.5)))).toEqual({ seconds: 2.5, format: "wav" });
    expect(audioDuration(asChunks(wavFile(1.25, 16000, { list: true }), 7))).toEqual({ seconds: 1.25, format: "wav" });
    // A streaming writer's unknown size: the bytes that follow the data header count.
    expect(audioDuration(asChunks(wavFile(0.75, 8000, { sizeUnknown: true })))?.seconds).toBeCloseTo(0.75, 6);
  });

  it("MP3: constant bit rate from the first frame (after an ID3v2 tag), VBR from a Xing header", () => {
    // 100 frames × 417 bytes at 128 kbit/s
    expect(audioDuration(asChunks(mp3Cbr(100)))?.seconds).toBeCloseTo((100 * 417 * 8) / 128_000, 6);
    const tagged = audioDuration(asChunks(mp3Cbr(100, 4096), 333));
    expect(tagged).toMatchObject({ format: "mp3" });
    expect(tagged!.seconds).toBeCloseTo((100 * 417 * 8) / 128_000, 6);
    // 2,000 frames of 1,152 samples at 44.1 kHz, whatever the file's size
    expect(audioDuration(asChunks(mp3Xing(2000)))?.seconds).toBeCloseTo((2000 * 1152) / 44100, 6);
  });

  it("FLAC: STREAMINFO's total samples over its sample rate", () => {
    expect(audioDuration(asChunks(flacFile(44100 * 3 + 22050)))).toEqual({ seconds: 3.5, format: "flac" });
    expect(audioDuration(asChunks(flacFile(0)))).toBeNull(); // an encoder that left the total unknown
  });

  it("anything else is not read: random bytes, Ogg, MP4, a truncated header", () => {
    const random = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7919 + 13) % 256));
    expect(audioDuration(asChunks(random))).toBeNull();
    expect(audioDuration(asChunks(Buffer.concat([Buffer.from("OggS"), Buffer.alloc(100, 0xff)])))).toBeNull();
    expect(audioDuration(asChunks(Buffer.concat([Buffer.alloc(4), Buffer.from("ftypM4A "), Buffer.alloc(100, 0xff)])))).toBeNull();
    expect(audioDuration(asChunks(wavFile(1).subarray(0, 30)))).toBeNull();
    expect(audioDuration({ chunks: [], size: 0 })).toBeNull();
  });

  it("bounds: the read duration +5 % and a second; unread files by their size at 1 kB/s (typical 16 kB/s)", () => {
    const file = (buf: Buffer) => ({ field: "file", filename: "a", contentType: "audio/wav", ...asChunks(buf) });
    expect(audioSecondsOf(file(wavFile(10)))).toEqual({ read: 10, bound: 12, typical: 10 });
    expect(audioSecondsOf(file(Buffer.alloc(32_000, 1)))).toEqual({ read: null, bound: 32, typical: 2 });
  });
});

describe("multipart for the upstream", () => {
  it("sends the fields, the endpoint's model id and the file's own chunks, with an exact length", () => {
    const file = wavFile(0.1);
    const { chunks, size } = asChunks(file, 256);
    const out = encodeMultipart(
      { fields: [["model", "whisper"], ["language", "de"], ['we"ird\r\nname', "v"]], file: { field: "file", filename: 'a "b".wav', contentType: "audio/wav", chunks, size } },
      "upstream-whisper",
    );
    expect(out.length).toBe(out.chunks.reduce((n, c) => n + c.byteLength, 0));
    // The file's chunks are passed on as they are (no copy).
    expect(out.chunks.slice(1, -1)).toEqual(chunks);
    expect(out.chunks.slice(1, -1).every((c, i) => c === chunks[i])).toBe(true);
    const text = Buffer.concat(out.chunks).toString("latin1");
    const boundary = out.contentType.split("boundary=")[1]!;
    expect(text).toContain(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nupstream-whisper\r\n`);
    expect(text).toContain('name="we%22ird%0D%0Aname"');
    expect(text).toContain('filename="a %22b%22.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF');
    expect(text.endsWith(`\r\n--${boundary}--\r\n`)).toBe(true);
  });
});

describe("multipart from the caller (the dev server's Fetch Request path; server.ts's node path is covered over HTTP)", () => {
  const upload = (fields: Record<string, string>, file?: Buffer) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    if (file) form.append("file", new Blob([new Uint8Array(file)], { type: "audio/wav" }), "clip.wav");
    return fromFetchRequest(new Request("http://lumen.test/v1/audio/transcriptions", { method: "POST", body: form }));
  };

  it("reads the fields in order and the file as the chunks that arrived", async () => {
    const wav = wavFile(0.5);
    const got = await readAudioUpload(upload({ prompt: "p", model: "echo" }, wav));
    expect(got.fields).toEqual([["prompt", "p"], ["model", "echo"]]);
    expect(formField(got, "model")).toBe("echo");
    expect(got.file).toMatchObject({ field: "file", filename: "clip.wav", contentType: "audio/wav", size: wav.length });
    expect(Buffer.concat(got.file.chunks).equals(wav)).toBe(true);
  });

  it("refuses a file over 25 MB (413), two files, and a body that is not multipart (400)", async () => {
    await expect(readAudioUpload(upload({ model: "echo" }, Buffer.alloc(AUDIO_FILE_LIMIT_BYTES + 1)))).rejects.toMatchObject({ status: 413, param: "file" });
    const two = new FormData();
    two.append("file", new Blob(["a"]), "a.wav");
    two.append("file", new Blob(["b"]), "b.wav");
    const twice = readAudioUpload(fromFetchRequest(new Request("http://lumen.test/", { method: "POST", body: two })));
    await expect(twice).rejects.toBeInstanceOf(GatewayError);
    await expect(twice).rejects.toMatchObject({ status: 400, code: "invalid_body" });
    const json = fromFetchRequest(new Request("http://lumen.test/", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }));
    await expect(readAudioUpload(json)).rejects.toMatchObject({ status: 400, code: "invalid_body" });
  });
});
