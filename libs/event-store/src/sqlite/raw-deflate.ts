import zlib from 'node:zlib';

/**
 * Raw deflate and inflate with a preset dictionary, for many small buffers, synchronously.
 *
 * `zlib.inflateRawSync(buf, { dictionary })` builds a new stream object, a new zlib state and sets
 * the dictionary on every call: about 25 µs for a 300-byte body, five times the inflate itself. Here
 * one zlib handle is kept and reset between buffers (a reset keeps the dictionary: Node sets it again
 * on reset), which is what Node's own sync functions do once per call. That uses the handle's
 * `writeSync`/`reset`, which Node does not document: the codec checks them once, on a known buffer,
 * and falls back to the public functions if they are missing or answer wrong.
 */
export interface RawCodec {
  deflate(input: Buffer): Buffer;
  inflate(input: Buffer): Buffer;
  /** `inflate(input.subarray(from))` as UTF-8 text, without copying the bytes out first. */
  inflateText(input: Buffer, from: number): string;
  /** Whether the kept handles are in use (false: the public, slower functions). */
  readonly reused: boolean;
}

interface Handle {
  reset(): void;
  writeSync(
    flush: number,
    input: Buffer,
    inOff: number,
    inLen: number,
    out: Buffer,
    outOff: number,
    outLen: number,
  ): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

const OUT_CHUNK = 64 * 1024;

/** One kept zlib handle: `run` deflates or inflates a whole buffer, or throws zlib's error. */
class KeptHandle {
  private readonly handle: Handle;
  private readonly state: Uint32Array;
  private error: Error | undefined;
  private out = Buffer.allocUnsafe(OUT_CHUNK);
  private dirty = false;

  constructor(
    private readonly make: () => zlib.DeflateRaw | zlib.InflateRaw,
    private readonly maxOutput: number,
  ) {
    const stream = make() as unknown as { _handle?: Handle; _writeState?: Uint32Array };
    if (!stream._handle || !stream._writeState || typeof stream._handle.writeSync !== 'function')
      throw new Error('no zlib handle');
    this.handle = stream._handle;
    this.state = stream._writeState;
    this.handle.onerror = (message, errno, code) => {
      this.error = Object.assign(new Error(message), { errno, code });
    };
  }

  run(input: Buffer, from = 0, text = false): Buffer | string {
    if (this.dirty) this.handle.reset();
    this.dirty = true;
    this.error = undefined;
    let inOff = from;
    let inLen = input.length - from;
    let chunks: Buffer[] | undefined;
    let total = 0;
    for (;;) {
      this.handle.writeSync(zlib.constants.Z_FINISH, input, inOff, inLen, this.out, 0, this.out.length);
      if (this.error) {
        const error = this.error;
        this.handle.reset();
        throw error;
      }
      const availOut = this.state[0];
      const availIn = this.state[1];
      const have = this.out.length - availOut;
      inOff += inLen - availIn;
      inLen = availIn;
      total += have;
      if (total > this.maxOutput) {
        this.handle.reset();
        throw Object.assign(new RangeError(`output larger than ${this.maxOutput} bytes`), {
          code: 'ERR_BUFFER_TOO_LARGE',
        });
      }
      if (availOut !== 0) {
        if (!chunks && text) return this.out.toString('utf8', 0, have);
        const last = Buffer.from(this.out.subarray(0, have));
        if (!chunks) return last;
        if (text) return Buffer.concat([...chunks, last], total).toString('utf8');
        chunks.push(last);
        return Buffer.concat(chunks, total);
      }
      (chunks ??= []).push(this.out);
      this.out = Buffer.allocUnsafe(OUT_CHUNK);
    }
  }
}

export function rawCodec(dictionary: Buffer, maxOutput = 512 * 1024 * 1024): RawCodec {
  const deflateOptions: zlib.ZlibOptions = { dictionary, level: 6 };
  const inflateOptions: zlib.ZlibOptions = { dictionary, maxOutputLength: maxOutput };
  const slow: RawCodec = {
    deflate: (input) => zlib.deflateRawSync(input, deflateOptions),
    inflate: (input) => zlib.inflateRawSync(input, inflateOptions),
    inflateText: (input, from) => zlib.inflateRawSync(input.subarray(from), inflateOptions).toString('utf8'),
    reused: false,
  };
  try {
    const d = new KeptHandle(() => zlib.createDeflateRaw(deflateOptions), Number.MAX_SAFE_INTEGER);
    const i = new KeptHandle(() => zlib.createInflateRaw(inflateOptions), maxOutput);
    const fast: RawCodec = {
      deflate: (input) => d.run(input) as Buffer,
      inflate: (input) => i.run(input) as Buffer,
      inflateText: (input, from) => i.run(input, from, true) as string,
      reused: true,
    };
    // the check: both ways, twice (a reset in between), a buffer larger than one output chunk,
    // and an error that leaves the handle usable
    const probe = Buffer.from(`${dictionary.toString('latin1')}${'x'.repeat(70_000)}probe`, 'latin1');
    for (let round = 0; round < 2; round++) {
      const packed = fast.deflate(probe);
      if (!slow.inflate(packed).equals(probe)) return slow;
      if (!fast.inflate(slow.deflate(probe)).equals(probe)) return slow;
    }
    try {
      fast.inflate(Buffer.from([0xff, 0xff, 0xff, 0xff]));
      return slow;
    } catch {
      // expected
    }
    if (!fast.inflate(slow.deflate(probe)).equals(probe)) return slow;
    const short = Buffer.concat([Buffer.from([7]), slow.deflate(Buffer.from('short'))]);
    if (fast.inflateText(short, 1) !== 'short') return slow;
    if (
      fast.inflateText(Buffer.concat([Buffer.from([7]), slow.deflate(probe)]), 1) !== probe.toString('utf8')
    )
      return slow;
    return fast;
  } catch {
    return slow;
  }
}
