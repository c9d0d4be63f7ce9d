/**
 * registerTemplate's download, done for real: the simulator GETs the URL (following redirects),
 * streams the body to a file under the data directory (never holding it in memory), reports
 * "N% Downloaded" while it runs, verifies the checksum when one was given, spends installMs in
 * "Installing Template" and ends "Download Complete" with isready=true. Any failure leaves the
 * template not ready with the error in `status`, as the secondary storage VM reports it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { sleep } from '../../sleep';
import type { CloudStackEngine } from './engine';
import type { Template } from './model';
import { qcow2VirtualSize } from './seed';

const FAILED = 'Failed to download template: ';

/** `{SHA-256}hex`, `{MD5}hex` … or bare hex (algorithm from its length). */
export function parseChecksum(value: string): { algorithm: string; hex: string } | undefined {
  const m = /^(?:\{([A-Za-z0-9-]+)\})?([0-9a-fA-F]+)$/.exec(value.trim());
  if (!m) return undefined;
  const hex = m[2]!.toLowerCase();
  const named = m[1]?.toLowerCase().replace('-', '');
  const byLength: Record<number, string> = { 32: 'md5', 40: 'sha1', 64: 'sha256', 96: 'sha384', 128: 'sha512' };
  const algorithm = named ?? byLength[hex.length];
  if (!algorithm || !['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'].includes(algorithm)) return undefined;
  return { algorithm, hex };
}

export function extensionFor(format: string): string {
  const f = format.toUpperCase();
  if (f === 'QCOW2') return 'qcow2';
  if (f === 'RAW') return 'img';
  if (f === 'VHD' || f === 'VHDX' || f === 'OVA' || f === 'ISO') return f.toLowerCase();
  return 'bin';
}

/** Counts bytes, hashes, reports progress and throttles to bytesPerSec. */
class Meter extends Transform {
  bytes = 0;
  private readonly started = Date.now();
  constructor(
    private readonly hash: crypto.Hash | undefined,
    private readonly bytesPerSec: () => number,
    private readonly onBytes: (bytes: number) => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    this.onBytes(this.bytes);
    const rate = this.bytesPerSec();
    const wait = rate > 0 ? (this.bytes / rate) * 1000 - (Date.now() - this.started) : 0;
    if (wait > 5) setTimeout(() => done(null, chunk), Math.min(wait, 10_000));
    else done(null, chunk);
  }
}

export class TemplateDownloader {
  private readonly agent: Dispatcher;

  constructor(private readonly engine: CloudStackEngine) {
    this.agent = new Agent({ headersTimeout: 30_000, bodyTimeout: 60_000, connectTimeout: 10_000 }).compose(
      interceptors.redirect({ maxRedirections: 5 }),
    );
  }

  /** Starts (or restarts) the download of a registered template; `failWith` simulates a failure. */
  start(t: Template, failWith?: string): void {
    this.engine.downloads.get(t.id)?.abort();
    const controller = new AbortController();
    this.engine.downloads.set(t.id, controller);
    void this.run(t, controller, failWith).finally(() => {
      if (this.engine.downloads.get(t.id) === controller) this.engine.downloads.delete(t.id);
    });
  }

  private current(t: Template): boolean {
    return this.engine.templates.get(t.id) === t;
  }

  private setStatus(t: Template, status: string, isready = false): void {
    if (!this.current(t)) return;
    t.status = status;
    t.isready = isready;
    this.engine.markDirty();
  }

  private async run(t: Template, controller: AbortController, failWith?: string): Promise<void> {
    const { engine } = this;
    const signal = controller.signal;
    const part = engine.abs(path.join('downloads', `${t.id}.part`));
    try {
      this.setStatus(t, '0% Downloaded');
      if (failWith) {
        await sleep(engine.timings.installMs, signal);
        this.setStatus(t, `${FAILED}${failWith}`);
        return;
      }
      const checksum = t.checksum ? parseChecksum(t.checksum) : undefined;
      const res = await request(t.url!, { dispatcher: this.agent, signal, method: 'GET' });
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => undefined);
        this.setStatus(t, `${FAILED}HTTP Server returned ${res.statusCode} (expected 200 OK)`);
        return;
      }
      const total = Number(res.headers['content-length'] ?? NaN);
      let lastPct = 0;
      const hash = checksum ? crypto.createHash(checksum.algorithm) : undefined;
      const meter = new Meter(hash, () => engine.timings.downloadBytesPerSec, (bytes) => {
        if (!Number.isFinite(total) || total <= 0) return;
        const pct = Math.min(99, Math.floor((bytes / total) * 100));
        if (pct !== lastPct) {
          lastPct = pct;
          this.setStatus(t, `${pct}% Downloaded`);
        }
      });
      fs.mkdirSync(path.dirname(part), { recursive: true });
      await pipeline(res.body, meter, fs.createWriteStream(part), { signal });
      if (Number.isFinite(total) && total >= 0 && meter.bytes !== total) {
        throw new Error(`incomplete download: ${meter.bytes} of ${total} bytes`);
      }
      if (checksum && hash) {
        const computed = hash.digest('hex');
        if (computed !== checksum.hex) {
          fs.rmSync(part, { force: true });
          this.setStatus(t, `${FAILED}checksum "${computed}" didn't match the given value, "${checksum.hex}"`);
          return;
        }
      }
      this.setStatus(t, '100% Downloaded');
      this.setStatus(t, 'Installing Template');
      await sleep(engine.timings.installMs, signal);
      if (!this.current(t)) return;
      const file = path.join('templates', `${t.id}.${extensionFor(t.format)}`);
      fs.mkdirSync(engine.abs('templates'), { recursive: true });
      fs.renameSync(part, engine.abs(file));
      t.file = file;
      t.physicalsize = meter.bytes;
      t.size = (t.format.toUpperCase() === 'QCOW2' ? qcow2VirtualSize(engine.abs(file)) : undefined) ?? meter.bytes;
      this.setStatus(t, 'Download Complete', true);
    } catch (err) {
      if (signal.aborted) return;
      const e = err as Error & { code?: string };
      const reason = e.code && !e.message.includes(e.code) ? `${e.message} (${e.code})` : e.message;
      this.setStatus(t, `${FAILED}${reason}`);
    } finally {
      fs.rmSync(part, { force: true });
    }
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}
