/**
 * Small audio files made in the tests (no fixtures on disk): PCM WAV with a tone, and the headers of
 * MP3 (constant bit rate, and VBR with a Xing header) and FLAC files, for the duration readers
 * (lib/gateway/audio-duration.ts) and the audio endpoints.
 */

/** A 16-bit mono PCM WAV of `seconds` (a 440 Hz tone), optionally with a LIST chunk before `data`. */
export function wavFile(seconds: number, sampleRate = 8000, opts: { list?: boolean; sizeUnknown?: boolean } = {}): Buffer {
  const samples = Math.round(seconds * sampleRate);
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / sampleRate)), i * 2);
  const fmt = Buffer.alloc(24);
  fmt.write("fmt ", 0, "ascii");
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8); // PCM
  fmt.writeUInt16LE(1, 10); // mono
  fmt.writeUInt32LE(sampleRate, 12);
  fmt.writeUInt32LE(sampleRate * 2, 16); // byte rate
  fmt.writeUInt16LE(2, 20); // block align
  fmt.writeUInt16LE(16, 22); // bits per sample
  const list = opts.list ? Buffer.concat([Buffer.from("LIST", "ascii"), u32le(5), Buffer.from("INFOx"), Buffer.alloc(1)]) : Buffer.alloc(0);
  const dataHead = Buffer.concat([Buffer.from("data", "ascii"), u32le(opts.sizeUnknown ? 0xffffffff : data.length)]);
  const body = Buffer.concat([Buffer.from("WAVE", "ascii"), fmt, list, dataHead, data]);
  return Buffer.concat([Buffer.from("RIFF", "ascii"), u32le(body.length), body]);
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** An ID3v2.4 tag of `size` bytes of payload (syncsafe length). */
export function id3Tag(size: number): Buffer {
  const head = Buffer.from([0x49, 0x44, 0x33, 4, 0, 0, (size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
  return Buffer.concat([head, Buffer.alloc(size)]);
}

/** MPEG-1 layer III, 128 kbit/s, 44.1 kHz, stereo: 417-byte frames of 1152 samples. */
const MP3_HEADER = [0xff, 0xfb, 0x90, 0x04];
const MP3_FRAME_BYTES = 417;

/** `frames` constant-bit-rate MP3 frames (silence), after an optional ID3v2 tag. */
export function mp3Cbr(frames: number, id3Bytes = 0): Buffer {
  const frame = Buffer.alloc(MP3_FRAME_BYTES);
  Buffer.from(MP3_HEADER).copy(frame);
  return Buffer.concat([id3Bytes ? id3Tag(id3Bytes) : Buffer.alloc(0), ...Array.from({ length: frames }, () => frame)]);
}

/** A VBR MP3 whose first frame is a Xing header counting `frames` frames (only `written` follow). */
export function mp3Xing(frames: number, written = 4): Buffer {
  const first = Buffer.alloc(MP3_FRAME_BYTES);
  Buffer.from(MP3_HEADER).copy(first);
  first.write("Xing", 4 + 32, "ascii");
  first.writeUInt32BE(1, 4 + 32 + 4); // flags: frame count present
  first.writeUInt32BE(frames, 4 + 32 + 8);
  return Buffer.concat([first, mp3Cbr(written)]);
}

/** A FLAC stream: the marker and a STREAMINFO block (44.1 kHz, stereo, 16 bit, `totalSamples`). */
export function flacFile(totalSamples: number, sampleRate = 44100): Buffer {
  const info = Buffer.alloc(34);
  info.writeUInt16BE(4096, 0);
  info.writeUInt16BE(4096, 2);
  const packed = (BigInt(sampleRate) << 44n) | (1n << 41n) | (15n << 36n) | BigInt(totalSamples);
  info.writeBigUInt64BE(packed, 10);
  return Buffer.concat([Buffer.from("fLaC", "ascii"), Buffer.from([0x80, 0, 0, 34]), info, Buffer.alloc(64)]);
}
