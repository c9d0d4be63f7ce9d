/**
 * The image store on 127.0.0.1:0 with a temp directory, driven through its client, raw undici
 * requests and node:http (for paths that must reach the server un-normalised).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import pino from 'pino';
import { request } from 'undici';
import { CloudApiError } from '../../src/clouds/errors';
import {
  ImageStoreClient,
  ImageStoreEnvError,
  imageStoreOptionsFromEnv,
  signDownloadUrl,
  startImageStore,
  type RunningImageStore,
} from '../../src/imagestore';
import { createLogger } from '../../src/logger';

const TOKEN = 'test-service-token-5f1c';
const SECRET = 'test-signing-secret-93ab';
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');

/** Deterministic pseudo-random bytes without holding them: n blocks drawn from 16 fixed ones. */
const BLOCK = 64 * 1024;
const BLOCKS = Array.from({ length: 16 }, (_, i) => crypto.createHash('sha512').update(`block-${i}`).digest()).map((seed) => {
  const b = Buffer.alloc(BLOCK);
  for (let o = 0; o < BLOCK; o += seed.length) seed.copy(b, o);
  return b;
});
function* generatedImage(blocks: number, hash?: crypto.Hash): Generator<Buffer> {
  for (let i = 0; i < blocks; i++) {
    const b = BLOCKS[(i * 7 + (i >> 4)) % 16];
    hash?.update(b);
    yield b;
  }
}

/** The V8 collector as a function (mocha runs without --expose-gc). */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Raw request through node:http, which sends the path exactly as written (no `..` resolution). */
function rawRequest(port: number, method: string, rawPath: string, headers: http.OutgoingHttpHeaders = {}, body?: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: rawPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('image store', function () {
  let dir: string;
  let store: RunningImageStore;
  let client: ImageStoreClient;
  let clock = Date.now();
  const logLines: string[] = [];
  const auth = { authorization: `Bearer ${TOKEN}` };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-imagestore-'));
    const sink = new Writable({ write: (chunk, _enc, cb) => (logLines.push(String(chunk)), cb()) });
    store = await startImageStore({ dir, serviceToken: TOKEN, signingSecret: SECRET, logger: pino({ level: 'info' }, sink), now: () => clock });
    client = new ImageStoreClient({ baseUrl: store.url, serviceToken: TOKEN });
  });
  after(async () => {
    await store?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const download = async (url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') => {
    const res = await request(url, { method, headers });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers as Record<string, string>, body };
  };

  it('when an image is uploaded, then it downloads byte-for-byte through a signed URL with its checksums', async () => {
    const data = Buffer.concat([...generatedImage(5)]).subarray(0, 5 * BLOCK - 123);
    const up = await client.upload('round-trip.qcow2', data, { expectedSha256: sha256(data), expectedMd5: md5(data), size: data.length });
    assert.equal(up.outcome, 'created');
    assert.equal(up.size, data.length);
    assert.equal(up.sha256, sha256(data));
    assert.equal(up.md5, md5(data));
    const meta = await client.meta('round-trip.qcow2');
    assert.deepEqual(meta, { key: 'round-trip.qcow2', size: data.length, sha256: sha256(data), md5: md5(data), created: up.created });

    const { url, expiresAt } = await client.downloadUrl('round-trip.qcow2', 600);
    assert.match(url, new RegExp(`^${store.url}/dl/round-trip\\.qcow2\\?expires=\\d+&sig=[0-9a-f]{64}$`));
    assert.equal(Date.parse(expiresAt), (Math.floor(clock / 1000) + 600) * 1000);
    const res = await download(url);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(data));
    assert.equal(res.headers['content-length'], String(data.length));
    assert.equal(res.headers['x-checksum-sha256'], sha256(data));
    assert.equal(res.headers.etag, `"${sha256(data)}"`);
    assert.equal(res.headers['content-md5'], Buffer.from(md5(data), 'hex').toString('base64'));
    assert.equal(res.headers['accept-ranges'], 'bytes');
  });

  it('when a 64 MiB image streams up and down, then the process does not buffer it', async () => {
    const blocks = 1024; // 64 MiB
    // Warm up first (lazy module loading, JIT, socket pools), and collect garbage at each sample so
    // the measure is what the process holds on to, not how lazily the collector runs.
    const warm = Buffer.concat([...generatedImage(16)]);
    await client.upload('warm-up.raw', warm);
    await download((await client.downloadUrl('warm-up.raw', 60)).url);
    const gc = exposeGc();
    gc();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sample = () => {
      gc();
      peak = Math.max(peak, process.memoryUsage().rss);
    };
    const sentHash = crypto.createHash('sha256');
    let progressed = 0;
    const up = await client.upload('big.raw', Readable.from(generatedImage(blocks, sentHash)), {
      onProgress: (n) => {
        progressed = n;
        if (n % (4 * 1024 * 1024) === 0) sample();
      },
    });
    const expected = sentHash.digest('hex');
    assert.equal(up.size, blocks * BLOCK);
    assert.equal(progressed, blocks * BLOCK);
    assert.equal(up.sha256, expected);

    const { url } = await client.downloadUrl('big.raw', 60);
    const res = await request(url);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(blocks * BLOCK));
    const gotHash = crypto.createHash('sha256');
    let received = 0;
    for await (const chunk of res.body) {
      gotHash.update(chunk as Buffer);
      received += (chunk as Buffer).length;
      if (received % (4 * 1024 * 1024) < (chunk as Buffer).length) sample();
    }
    sample();
    assert.equal(received, blocks * BLOCK);
    assert.equal(gotHash.digest('hex'), expected);
    const growth = peak - baseline;
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB while moving 64 MiB each way`);
  });

  it('when the body does not match X-Expected-Sha256 or Content-MD5, then 422 and nothing is stored', async () => {
    const data = Buffer.from('not the bytes you were promised');
    await assert.rejects(client.upload('mismatch.img', data, { expectedSha256: sha256(Buffer.from('other')) }), (e: unknown) => {
      assert.ok(e instanceof CloudApiError);
      assert.equal(e.status, 422);
      assert.equal(e.kind, 'BadRequest');
      assert.equal(e.retryable, false);
      const body = JSON.parse(e.body!) as { error: { code: string; actual: string } };
      assert.equal(body.error.code, 'checksum_mismatch');
      assert.equal(body.error.actual, sha256(data));
      return true;
    });
    await assert.rejects(client.upload('mismatch.img', data, { expectedMd5: md5(Buffer.from('other')) }), (e: unknown) => e instanceof CloudApiError && e.status === 422);
    assert.equal(await client.meta('mismatch.img'), undefined);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'tmp')), []);
    assert.ok(!fs.readdirSync(path.join(dir, 'blobs')).some((f) => f.startsWith('mismatch.img')));
  });

  it('when the same content is uploaded again, then 200 unchanged and nothing is rewritten; different content is 409 unless overwrite', async () => {
    const first = Buffer.from('version one');
    const second = Buffer.from('version two, longer');
    const a = await client.upload('idem.img', first);
    assert.equal(a.outcome, 'created');
    const blobsBefore = fs.readdirSync(path.join(dir, 'blobs')).filter((f) => f.startsWith('idem.img'));
    const mtimeBefore = fs.statSync(path.join(dir, 'blobs', blobsBefore[0])).mtimeMs;

    const again = await rawRequest(store.port, 'PUT', '/images/idem.img', auth, first);
    assert.equal(again.status, 200);
    assert.equal((JSON.parse(String(again.body)) as { outcome: string }).outcome, 'unchanged');
    assert.equal((await client.meta('idem.img'))!.created, a.created);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'blobs')).filter((f) => f.startsWith('idem.img')), blobsBefore);
    assert.equal(fs.statSync(path.join(dir, 'blobs', blobsBefore[0])).mtimeMs, mtimeBefore);

    await assert.rejects(client.upload('idem.img', second), (e: unknown) => e instanceof CloudApiError && e.status === 409 && /already exists/.test(e.message));
    assert.equal((await client.meta('idem.img'))!.sha256, sha256(first));

    const replaced = await client.upload('idem.img', second, { overwrite: true });
    assert.equal(replaced.outcome, 'replaced');
    assert.equal(replaced.sha256, sha256(second));
    const res = await download((await client.downloadUrl('idem.img', 60)).url);
    assert.ok(res.body.equals(second));
    // The old bytes are gone, not left behind.
    assert.deepEqual(fs.readdirSync(path.join(dir, 'blobs')).filter((f) => f.startsWith('idem.img')), [`idem.img.${sha256(second)}`]);
  });

  describe('signed download URLs', () => {
    const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    before(async () => {
      await client.upload('signed.img', data);
    });

    it('when the worker signs a URL locally with the shared secret, then the store accepts it', async () => {
      const { url } = signDownloadUrl(store.publicUrl, 'signed.img', 60, SECRET, clock);
      const res = await download(url);
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(data));
    });

    it('when the URL has expired, then 403 with a JSON error', async () => {
      const { url } = await client.downloadUrl('signed.img', 30);
      const saved = clock;
      clock += 31_000;
      try {
        const res = await download(url);
        assert.equal(res.status, 403);
        assert.match(res.headers['content-type'], /application\/json/);
        assert.equal((JSON.parse(String(res.body)) as { error: { message: string } }).error.message, 'download URL expired');
      } finally {
        clock = saved;
      }
      assert.equal((await download(url)).status, 200, 'still valid before its expiry');
    });

    it('when the signature, the key or the expiry is tampered with, then 403', async () => {
      const { url } = await client.downloadUrl('signed.img', 60);
      const u = new URL(url);
      const sig = u.searchParams.get('sig')!;
      const flipped = new URL(url);
      flipped.searchParams.set('sig', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
      assert.equal((await download(flipped.toString())).status, 403);
      const otherKey = new URL(url);
      otherKey.pathname = '/dl/idem.img';
      assert.equal((await download(otherKey.toString())).status, 403);
      const longer = new URL(url);
      longer.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600));
      assert.equal((await download(longer.toString())).status, 403);
      const unsigned = new URL(url);
      unsigned.search = '';
      assert.equal((await download(unsigned.toString())).status, 403);
      assert.equal((await download(signDownloadUrl(store.url, 'signed.img', 60, 'wrong-secret', clock).url)).status, 403);
    });

    it('when a validly signed URL names a missing image, then 404', async () => {
      const res = await download(signDownloadUrl(store.url, 'never-uploaded.img', 60, SECRET, clock).url);
      assert.equal(res.status, 404);
      await assert.rejects(client.downloadUrl('never-uploaded.img', 60), (e: unknown) => e instanceof CloudApiError && e.status === 404);
    });

    it('when a Range is requested, then 206 with exactly those bytes', async () => {
      const { url } = await client.downloadUrl('signed.img', 60);
      const mid = await download(url, { range: 'bytes=10-19' });
      assert.equal(mid.status, 206);
      assert.equal(String(mid.body), 'abcdefghij');
      assert.equal(mid.headers['content-range'], `bytes 10-19/${data.length}`);
      assert.equal(mid.headers['content-length'], '10');
      assert.equal(mid.headers['content-md5'], undefined, 'Content-MD5 would describe the whole image, not this part');
      const tail = await download(url, { range: 'bytes=-4' });
      assert.equal(tail.status, 206);
      assert.equal(String(tail.body), 'wxyz');
      const open = await download(url, { range: 'bytes=30-' });
      assert.equal(String(open.body), 'uvwxyz');
      const beyond = await download(url, { range: `bytes=${data.length}-` });
      assert.equal(beyond.status, 416);
      assert.equal(beyond.headers['content-range'], `bytes */${data.length}`);
      const staleIfRange = await download(url, { range: 'bytes=0-3', 'if-range': '"0000"' });
      assert.equal(staleIfRange.status, 200, 'If-Range with another ETag gets the whole image');
      assert.ok(staleIfRange.body.equals(data));
    });

    it('when a downloader sends HEAD, then it gets the headers and no body', async () => {
      const { url } = await client.downloadUrl('signed.img', 60);
      const res = await download(url, {}, 'HEAD');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], String(data.length));
      assert.equal(res.headers['x-checksum-sha256'], sha256(data));
      assert.equal(res.body.length, 0);
    });
  });

  it('when management routes are called without the service token, then 401', async () => {
    const bad = { authorization: 'Bearer nope' };
    for (const [method, p] of [
      ['GET', '/images'],
      ['GET', '/images/round-trip.qcow2/meta'],
      ['DELETE', '/images/round-trip.qcow2'],
      ['POST', '/images/round-trip.qcow2/url'],
      ['PUT', '/images/sneaky.img'],
    ] as const) {
      for (const headers of [{}, bad]) {
        const res = await rawRequest(store.port, method, p, headers, method === 'PUT' ? Buffer.from('x') : undefined);
        assert.equal(res.status, 401, `${method} ${p}`);
        assert.match(res.headers['www-authenticate'] ?? '', /^Bearer/);
      }
    }
    assert.equal(await client.meta('sneaky.img'), undefined);
    assert.ok(await client.meta('round-trip.qcow2'), 'the unauthorised DELETE did nothing');
    await assert.rejects(new ImageStoreClient({ baseUrl: store.url, serviceToken: 'wrong' }).list(), (e: unknown) => e instanceof CloudApiError && e.kind === 'Unauthorized');
  });

  it('when a key tries to leave the store directory, then 400', async () => {
    for (const p of ['/images/../escape', '/images/..', '/images/a/../../b', '/images/%2e%2e/x', '/images/a%2Fb', '/images/.hidden', '/images/sp%20ace', '/images/a//b', '/images/a/']) {
      const res = await rawRequest(store.port, 'PUT', p, auth, Buffer.from('x'));
      assert.equal(res.status, 400, p);
      assert.equal((JSON.parse(String(res.body)) as { error: { code: string } }).error.code, 'invalid_key');
    }
    const dl = await rawRequest(store.port, 'GET', '/dl/../meta/round-trip.qcow2.json?expires=1&sig=00');
    assert.equal(dl.status, 400);
    assert.deepEqual(fs.readdirSync(path.dirname(dir)).filter((f) => f === 'escape' || f === 'b'), []);
  });

  it('when keys have segments, then they are stored flat, listed by prefix and deleted idempotently', async () => {
    await client.upload('vm-1/backup-1.qcow2', Buffer.from('one'));
    await client.upload('vm-1/backup-2.qcow2', Buffer.from('two'));
    await client.upload('vm-2/backup-1.qcow2', Buffer.from('three'));
    assert.deepEqual((await client.list('vm-1/')).map((m) => m.key), ['vm-1/backup-1.qcow2', 'vm-1/backup-2.qcow2']);
    const res = await download((await client.downloadUrl('vm-2/backup-1.qcow2', 60)).url);
    assert.equal(String(res.body), 'three');
    await client.delete('vm-1/backup-1.qcow2');
    await client.delete('vm-1/backup-1.qcow2');
    assert.equal(await client.meta('vm-1/backup-1.qcow2'), undefined);
    assert.equal((await download(signDownloadUrl(store.url, 'vm-1/backup-1.qcow2', 60, SECRET, clock).url)).status, 404);
    assert.deepEqual((await client.list('vm-1/')).map((m) => m.key), ['vm-1/backup-2.qcow2']);
  });

  it('when several different images upload at once, then each is stored intact', async () => {
    const images = Array.from({ length: 6 }, (_, i) => Buffer.concat([...generatedImage(8 + i)]));
    const results = await Promise.all(images.map((img, i) => client.upload(`parallel-${i}.img`, Readable.from([img]), { expectedSha256: sha256(img) })));
    for (const [i, r] of results.entries()) {
      assert.equal(r.sha256, sha256(images[i]));
      assert.equal((await client.meta(`parallel-${i}.img`))!.size, images[i].length);
    }
  });

  it('when the same key is uploaded concurrently with the same bytes, then exactly one creates it', async () => {
    const img = Buffer.concat([...generatedImage(4)]);
    const outcomes = await Promise.all([1, 2, 3].map(() => client.upload('same-key.img', img)));
    assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ['created', 'unchanged', 'unchanged']);
  });

  it('when an upload is aborted midway, then nothing is stored and no temp file remains', async () => {
    const ac = new AbortController();
    let sent = 0;
    const body = Readable.from(
      (function* () {
        for (const b of generatedImage(64)) {
          sent += b.length;
          if (sent > 8 * BLOCK) ac.abort(new Error('operator cancelled'));
          yield b;
        }
      })(),
    );
    await assert.rejects(client.upload('aborted.img', body, { signal: ac.signal }), /operator cancelled/);
    // The server notices the reset asynchronously; poll briefly (bounded) for the temp file to go.
    for (let i = 0; i < 50 && fs.readdirSync(path.join(dir, 'tmp')).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(fs.readdirSync(path.join(dir, 'tmp')), []);
    assert.equal(await client.meta('aborted.img'), undefined);
  });

  it('when the store restarts on the same directory, then its images are still there', async () => {
    const second = await startImageStore({ dir, serviceToken: TOKEN, signingSecret: SECRET, logger: createLogger('silent') });
    try {
      const meta = await new ImageStoreClient({ baseUrl: second.url, serviceToken: TOKEN }).meta('round-trip.qcow2');
      assert.equal(meta?.key, 'round-trip.qcow2');
    } finally {
      await second.stop();
    }
  });

  it('when requests were logged, then no log line holds the token, the signing secret or a signature', async () => {
    const { url } = await client.downloadUrl('round-trip.qcow2', 60);
    await download(url);
    const sig = new URL(url).searchParams.get('sig')!;
    const logs = logLines.join('');
    assert.match(logs, /"url":"\/dl\/round-trip\.qcow2\?expires=\d+&sig=\[REDACTED\]"/);
    for (const secret of [TOKEN, SECRET, sig]) assert.ok(!logs.includes(secret), 'a secret reached the log');
  });

  describe('configuration from the environment', () => {
    it('when NODE_ENV=production lacks the secrets, then the error names each missing variable', () => {
      assert.throws(
        () => imageStoreOptionsFromEnv({ NODE_ENV: 'production', IMAGE_STORE_DIR: dir, IMAGE_STORE_TOKEN: 't' }),
        (e: unknown) => e instanceof ImageStoreEnvError && /IMAGE_STORE_SIGNING_SECRET/.test(e.message) && !/IMAGE_STORE_TOKEN/.test(e.message),
      );
      assert.throws(() => imageStoreOptionsFromEnv({ NODE_ENV: 'production', IMAGE_STORE_DIR: dir }), /IMAGE_STORE_TOKEN and IMAGE_STORE_SIGNING_SECRET/);
    });

    it('when secrets are missing in development, then generated ones are kept private and reused', () => {
      const devDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-imagestore-env-'));
      try {
        const first = imageStoreOptionsFromEnv({ IMAGE_STORE_DIR: devDir, IMAGE_STORE_PORT: '0' });
        assert.ok(first.devSecretsFile);
        assert.equal(fs.statSync(first.devSecretsFile).mode & 0o777, 0o600);
        assert.ok(first.options.serviceToken.length >= 24 && first.options.signingSecret.length >= 32);
        const second = imageStoreOptionsFromEnv({ IMAGE_STORE_DIR: devDir, IMAGE_STORE_PORT: '0' });
        assert.equal(second.options.serviceToken, first.options.serviceToken);
        assert.equal(second.options.signingSecret, first.options.signingSecret);
        const given = imageStoreOptionsFromEnv({ IMAGE_STORE_DIR: devDir, IMAGE_STORE_TOKEN: 'a', IMAGE_STORE_SIGNING_SECRET: 'b' });
        assert.equal(given.devSecretsFile, undefined);
        assert.equal(given.options.port, 8090);
        assert.equal(given.options.dir, devDir);
      } finally {
        fs.rmSync(devDir, { recursive: true, force: true });
      }
    });
  });
});
