/**
 * How long an uploaded audio file plays, read from its headers alone — for the reservation of an audio
 * request and for its bill when the upstream reports no usage (SPEC §5). Small parsers, no library:
 * the maintained ones (music-metadata) parse tags and codecs far beyond this, are ESM-only and pull a
 * dozen modules into the server bundle for three fixed-layout headers.
 *
 * Supported (tests in tests/unit/audio-duration.test.ts):
 * - **WAV** (RIFF/WAVE): the `fmt ` chunk's byte rate and the `data` chunk's size (or the bytes that
 *   follow it, when a streaming writer left the size at 0 or 0xFFFFFFFF).
 * - **FLAC**: STREAMINFO's sample rate and total samples (after an ID3v2 tag, if any); unknown when an
 *   encoder left the total at 0.
 * - **MP3** (MPEG-1/2/2.5 layers I–III): after an ID3v2 tag, the first frame header; the frame count
 *   of a Xing/Info or VBRI header when there is one (VBR files), else the bit rate over the audio bytes
 *   (constant bit rate).
 * Anything else (Ogg, WebM, M4A, …) is "not read": the caller falls back on the file's size.
 */

export type AudioFormat = "wav" | "flac" | "mp3";

/** The bytes of a file held as chunks, read at any offset without joining the chunks. */
class Bytes {
  private readonly starts: number[] = [];

  constructor(
    private readonly chunks: readonly Uint8Array[],
    readonly size: number,
  ) {
    let at = 0;
    for (const c of chunks) {
      this.starts.push(at);
      at += c.byteLength;
    }
  }

  /** The byte at `offset`, or -1 past the end. */
  at(offset: number): number {
    if (offset < 0 || offset >= this.size) return -1;
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return this.chunks[lo]![offset - this.starts[lo]!]!;
  }

  /** `length` bytes from `offset` (fewer at the end). */
  slice(offset: number, length: number): Uint8Array {
    const end = Math.min(this.size, offset + length);
    const out = new Uint8Array(Math.max(0, end - offset));
    for (let i = 0; i < out.length; i++) out[i] = this.at(offset + i);
    return out;
  }

  ascii(offset: number, length: number): string {
    return String.fromCharCode(...this.slice(offset, length));
  }

  u32le(offset: number): number {
    const b = this.slice(offset, 4);
    return b.length < 4 ? -1 : (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000;
  }

  u32be(offset: number): number {
    const b = this.slice(offset, 4);
    return b.length < 4 ? -1 : b[0]! * 0x1000000 + ((b[1]! << 16) | (b[2]! << 8) | b[3]!);
  }
}

function wavSeconds(b: Bytes): number | null {
  if (b.ascii(0, 4) !== "RIFF" || b.ascii(8, 4) !== "WAVE") return null;
  let byteRate = 0;
  for (let at = 12; at + 8 <= b.size; ) {
    const id = b.ascii(at, 4);
    const size = b.u32le(at + 4);
    if (size < 0) return null;
    if (id === "fmt ") byteRate = b.u32le(at + 16);
    if (id === "data") {
      if (byteRate <= 0) return null;
      const following = b.size - (at + 8);
      const bytes = size === 0 || size === 0xffffffff || size > following ? following : size;
      return bytes / byteRate;
    }
    at += 8 + size + (size % 2); // chunks are padded to an even length
  }
  return null;
}

/** The size of an ID3v2 tag at the start (0 when there is none). */
function id3v2Size(b: Bytes): number {
  if (b.ascii(0, 3) !== "ID3") return 0;
  const s = b.slice(6, 4);
  if (s.length < 4 || s.some((x) => x > 0x7f)) return 0;
  const footer = (b.at(5) & 0x10) !== 0 ? 10 : 0;
  return 10 + ((s[0]! << 21) | (s[1]! << 14) | (s[2]! << 7) | s[3]!) + footer;
}

function flacSeconds(b: Bytes): number | null {
  const start = id3v2Size(b);
  if (b.ascii(start, 4) !== "fLaC") return null;
  // The first metadata block is STREAMINFO (type 0, 34 bytes).
  if ((b.at(start + 4) & 0x7f) !== 0) return null;
  const info = b.slice(start + 8, 34);
  if (info.length < 34) return null;
  const sampleRate = (info[10]! << 12) | (info[11]! << 4) | (info[12]! >> 4);
  const totalSamples = (info[13]! & 0x0f) * 2 ** 32 + info[14]! * 0x1000000 + ((info[15]! << 16) | (info[16]! << 8) | info[17]!);
  if (sampleRate === 0 || totalSamples === 0) return null;
  return totalSamples / sampleRate;
}

const MP3_BITRATES: Record<string, number[]> = {
  "1-1": [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  "1-2": [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  "1-3": [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  "2-1": [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  "2-2": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  "2-3": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const MP3_SAMPLE_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };
/** How far into the file the first frame is searched for (after an ID3v2 tag). */
const MP3_SYNC_SEARCH_BYTES = 64 * 1024;

interface Mp3Frame {
  offset: number;
  mpeg1: boolean;
  mono: boolean;
  bitrateKbps: number;
  sampleRate: number;
  samplesPerFrame: number;
  /** Bytes of this frame, header included. */
  length: number;
}

function mp3FrameAt(b: Bytes, offset: number): Mp3Frame | null {
  const h = b.slice(offset, 4);
  if (h.length < 4 || h[0] !== 0xff || (h[1]! & 0xe0) !== 0xe0) return null;
  const version = (h[1]! >> 3) & 0x03; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
  const layerBits = (h[1]! >> 1) & 0x03; // 3: layer I, 2: layer II, 1: layer III
  const bitrateIndex = h[2]! >> 4;
  const rateIndex = (h[2]! >> 2) & 0x03;
  if (version === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const layer = 4 - layerBits;
  const mpeg1 = version === 3;
  const bitrateKbps = MP3_BITRATES[`${mpeg1 ? 1 : 2}-${layer}`]![bitrateIndex]!;
  const sampleRate = MP3_SAMPLE_RATES[version]![rateIndex]!;
  const samplesPerFrame = layer === 1 ? 384 : layer === 3 && !mpeg1 ? 576 : 1152;
  const padding = (h[2]! >> 1) & 0x01;
  const length = Math.floor(((samplesPerFrame / 8) * bitrateKbps * 1000) / sampleRate) + padding * (layer === 1 ? 4 : 1);
  return { offset, mpeg1, mono: h[3]! >> 6 === 3, bitrateKbps, sampleRate, samplesPerFrame, length };
}

/** A frame header at `offset` whose successor is a frame header too (random bytes rarely manage both). */
function mp3SyncAt(b: Bytes, offset: number): Mp3Frame | null {
  const frame = mp3FrameAt(b, offset);
  if (!frame) return null;
  const next = mp3FrameAt(b, offset + frame.length);
  if (next && next.sampleRate === frame.sampleRate && next.mpeg1 === frame.mpeg1) return frame;
  return offset + frame.length >= b.size ? frame : null;
}

function mp3Seconds(b: Bytes): number | null {
  const start = id3v2Size(b);
  let frame: Mp3Frame | null = null;
  for (let at = start; at < Math.min(b.size, start + MP3_SYNC_SEARCH_BYTES) && !frame; at++) {
    if (b.at(at) === 0xff) frame = mp3SyncAt(b, at);
  }
  if (!frame) return null;
  // A Xing/Info header sits after the side information; VBRI 32 bytes after the frame header.
  const side = frame.mpeg1 ? (frame.mono ? 17 : 32) : frame.mono ? 9 : 17;
  const xing = frame.offset + 4 + side;
  const tag = b.ascii(xing, 4);
  if (tag === "Xing" || tag === "Info") {
    const flags = b.u32be(xing + 4);
    const frames = flags & 1 ? b.u32be(xing + 8) : -1;
    if (frames > 0) return (frames * frame.samplesPerFrame) / frame.sampleRate;
  }
  if (b.ascii(frame.offset + 36, 4) === "VBRI") {
    const frames = b.u32be(frame.offset + 36 + 14);
    if (frames > 0) return (frames * frame.samplesPerFrame) / frame.sampleRate;
  }
  const audioBytes = b.size - frame.offset - (b.ascii(b.size - 128, 3) === "TAG" ? 128 : 0);
  return (audioBytes * 8) / (frame.bitrateKbps * 1000);
}

/** The duration of an audio file from its headers, or null when its format is not one read here. */
export function audioDuration(file: { chunks: readonly Uint8Array[]; size: number }): { seconds: number; format: AudioFormat } | null {
  const b = new Bytes(file.chunks, file.size);
  // Containers read nowhere here, whose compressed bytes could pass for MPEG frames: Ogg, Matroska/WebM, MP4/M4A.
  if (b.ascii(0, 4) === "OggS" || b.u32be(0) === 0x1a45dfa3 || b.ascii(4, 4) === "ftyp") return null;
  const wav = wavSeconds(b);
  if (wav !== null) return { seconds: wav, format: "wav" };
  const flac = flacSeconds(b);
  if (flac !== null) return { seconds: flac, format: "flac" };
  const mp3 = mp3Seconds(b);
  if (mp3 !== null) return { seconds: mp3, format: "mp3" };
  return null;
}
