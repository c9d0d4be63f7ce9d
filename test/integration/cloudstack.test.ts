import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import {
  CloudStackClient,
  CloudStackJobError,
  type CsTemplate,
  type ExtractJobResult,
  type SnapshotJobResult,
  type SuccessJobResult,
  type TemplateJobResult,
  type VmJobResult,
} from '../../src/clouds/cloudstack/client';
import { encodeParams, formatExpires, signedParams, signRequest } from '../../src/clouds/cloudstack/signing';
import { CloudApiError } from '../../src/clouds/errors';
import { ADMIN_ACCOUNT, FAST_TIMINGS, startCloudStackSimulator, type CloudStackSimulator, type SimStateSummary } from '../../src/sim/cloudstack';

const OTHER = {
  name: 'other',
  apiKey: 'other-api-key-0123456789abcdefghijklmnopqrstuvwxyz',
  secretKey: 'other-secret-key-0123456789abcdefghijklmnopqrstuvwxyz',
  vmLimit: 2,
};

/** Polls until check returns a value (bounded: throws after timeoutMs). */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

async function rejectsWith(p: Promise<unknown>, check: (e: CloudApiError) => void): Promise<CloudApiError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CloudApiError, `expected a CloudApiError, got ${String(caught)}`);
  check(caught);
  return caught;
}

/** A qcow2-looking image: real header (virtual size 1 GiB), random body, so byte equality means something. */
function makeImage(bytes: number): Buffer {
  const buf = crypto.randomBytes(bytes);
  buf.writeUInt32BE(0x514649fb, 0);
  buf.writeUInt32BE(3, 4);
  buf.writeBigUInt64BE(BigInt(1024 ** 3), 24);
  return buf;
}

describe('CloudStack client against the CloudStack simulator', function () {
  this.timeout(30_000);

  let sim: CloudStackSimulator;
  let images: http.Server;
  let imageBase: string;
  const image = makeImage(300 * 1024);
  const sha256 = crypto.createHash('sha256').update(image).digest('hex');
  let demo: CloudStackClient;
  let other: CloudStackClient;
  let admin: CloudStackClient;
  let zoneId: string;
  let offeringId: string;
  let ubuntuId: string;
  let osTypeId: string;

  const client = (creds: { apiKey: string; secretKey: string }, extra: Partial<ConstructorParameters<typeof CloudStackClient>[0]> = {}) =>
    new CloudStackClient({ apiUrl: sim.apiUrl, ...creds, timeoutMs: 5000, pollIntervalMs: 15, logger: undefined, ...extra });

  async function simAdmin<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await request(`${sim.url}/_sim${route}`, {
      method: method as 'GET',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async function deploy(c: CloudStackClient, extra: Record<string, string | boolean> = {}, templateid = ubuntuId) {
    const ref = await c.deployVirtualMachine({ serviceofferingid: offeringId, templateid, zoneid: zoneId, ...extra });
    const { virtualmachine } = await c.waitForJob<VmJobResult>(ref.jobid);
    return virtualmachine;
  }

  async function registerReady(c: CloudStackClient, name: string, extra: Record<string, string | boolean> = {}): Promise<CsTemplate> {
    const t = await c.registerTemplate({
      name,
      format: 'QCOW2',
      hypervisor: 'KVM',
      url: `${imageBase}/tiny.qcow2`,
      ostypeid: osTypeId,
      zoneid: zoneId,
      isextractable: true,
      ...extra,
    });
    return eventually(`template ${name} ready`, async () => {
      const [cur] = await c.listTemplates({ templatefilter: 'self', id: t.id });
      return cur?.isready ? cur : undefined;
    });
  }

  async function download(url: string): Promise<Buffer> {
    const { body } = await demo.openDownload(url);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  before(async () => {
    images = http.createServer((req, res) => {
      if (req.url === '/tiny.qcow2') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': image.length });
        res.end(image);
      } else if (req.url === '/moved') {
        res.writeHead(302, { location: '/tiny.qcow2' }).end();
      } else {
        res.writeHead(404).end('no such image');
      }
    });
    await new Promise<void>((r) => images.listen(0, '127.0.0.1', r));
    imageBase = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
    sim = await startCloudStackSimulator({ accounts: [OTHER] });
    demo = client(sim.credentials);
    other = client(OTHER);
    admin = client(ADMIN_ACCOUNT);
  });

  after(async () => {
    await sim?.stop();
    await new Promise<void>((r) => (images ? images.close(() => r()) : r()));
  });

  beforeEach(async () => {
    assert.equal((await simAdmin('POST', '/reset')).status, 200);
    assert.equal((await simAdmin('PATCH', '/timings', FAST_TIMINGS)).status, 200);
    const [zone] = await demo.listZones();
    zoneId = zone!.id;
    offeringId = (await demo.listServiceOfferings({ name: 'Small Instance' }))[0]!.id;
    ubuntuId = (await demo.listTemplates({ templatefilter: 'featured', name: 'Ubuntu 24.04 LTS' }))[0]!.id;
    osTypeId = (await demo.listOsTypes({ description: 'Other Linux (64-bit)' }))[0]!.id;
  });

  describe('discovery and infrastructure', () => {
    it('when listApis is called as cmk sync does, then every command is described with the fields cmk reads', async () => {
      const apis = await demo.listApis();
      const names = apis.map((a) => a.name).sort();
      for (const expected of [
        'createSnapshot', 'createTemplate', 'deleteSnapshot', 'deleteTemplate', 'deployVirtualMachine', 'destroyVirtualMachine',
        'extractTemplate', 'listApis', 'listAsyncJobs', 'listNetworks', 'listOsTypes', 'listServiceOfferings', 'listSnapshots',
        'listTemplates', 'listVirtualMachines', 'listVolumes', 'listZones', 'queryAsyncJobResult', 'rebootVirtualMachine',
        'registerTemplate', 'startVirtualMachine', 'stopVirtualMachine', 'changeServiceForVirtualMachine', 'updateVirtualMachine',
        'listNetworkOfferings', 'createNetwork', 'deleteNetwork',
      ]) {
        assert.ok(names.includes(expected), `listApis lacks ${expected}`);
      }
      for (const api of apis) {
        assert.equal(typeof api.description, 'string');
        assert.equal(typeof api.isasync, 'boolean');
        assert.ok(Array.isArray(api.response) && api.response.every((r) => typeof r.name === 'string'), `${api.name} response`);
        for (const p of api.params) {
          assert.equal(typeof p.name, 'string');
          assert.equal(typeof p.type, 'string');
          assert.equal(typeof p.required, 'boolean');
          assert.equal(typeof p.description, 'string');
        }
      }
      const deployApi = apis.find((a) => a.name === 'deployVirtualMachine')!;
      assert.equal(deployApi.isasync, true);
      assert.deepEqual(deployApi.params.filter((p) => p.required).map((p) => p.name).sort(), ['serviceofferingid', 'templateid', 'zoneid']);
      assert.equal(apis.find((a) => a.name === 'registerTemplate')!.isasync, false);
      assert.equal(apis.find((a) => a.name === 'createNetwork')!.isasync, false);
      assert.equal(apis.find((a) => a.name === 'deleteNetwork')!.isasync, true);
    });

    it('when listing the infrastructure, then there is an enabled Advanced zone, three offerings, OS types and a guest network', async () => {
      const [zone] = await demo.listZones();
      assert.equal(zone!.networktype, 'Advanced');
      assert.equal(zone!.allocationstate, 'Enabled');
      const offerings = await demo.listServiceOfferings();
      assert.deepEqual(offerings.map((o) => o.name), ['Small Instance', 'Medium Instance', 'Large Instance', 'Extra Large Instance']);
      assert.ok(offerings.every((o) => o.cpunumber > 0 && o.cpuspeed > 0 && o.memory >= 1024));
      assert.ok((await demo.listOsTypes()).some((o) => o.description === 'Ubuntu 24.04 LTS'));
      const [net] = await demo.listNetworks();
      assert.equal(net!.zoneid, zone!.id);
      assert.match(net!.cidr!, /^10\.1\.\d+\.0\/24$/);
    });

    it('when a list finds nothing, then the server answers {} and the client returns []', async () => {
      assert.deepEqual(await demo.request('listVirtualMachines'), {});
      assert.deepEqual(await demo.listVirtualMachines(), []);
    });

    it('when templates are listed, then templatefilter is required and its values follow CloudStack semantics', async () => {
      await rejectsWith(demo.request('listTemplates', {}), (e) => {
        assert.equal(e.kind, 'BadRequest');
        assert.equal(e.status, 431);
        assert.match(e.message, /missing parameter templatefilter/);
      });
      const featured = await demo.listTemplates({ templatefilter: 'featured' });
      assert.deepEqual(featured.map((t) => t.name).sort(), ['CentOS Stream 9', 'Fedora 41', 'Ubuntu 22.04 LTS', 'Ubuntu 24.04 LTS']);
      assert.ok(featured.every((t) => t.isready && t.status === 'Download Complete'));
      assert.deepEqual(await demo.listTemplates({ templatefilter: 'self' }), []);
      assert.equal((await demo.listTemplates({ templatefilter: 'executable' })).length, 4);
      await rejectsWith(demo.listTemplates({ templatefilter: 'all' }), (e) => assert.equal(e.status, 431));
      assert.equal((await admin.listTemplates({ templatefilter: 'all' })).length, 4);
    });

    it('when an unknown command is sent, then the answer is 432 BadRequest', async () => {
      await rejectsWith(demo.request('launchRocket'), (e) => {
        assert.equal(e.status, 432);
        assert.equal(e.kind, 'BadRequest');
      });
    });
  });

  describe('authentication', () => {
    it('when the secret key is wrong, then the call fails 401 Unauthorized without leaking the key', async () => {
      const bad = client({ apiKey: sim.credentials.apiKey, secretKey: 'not-the-secret' });
      const err = await rejectsWith(bad.listZones(), (e) => {
        assert.equal(e.kind, 'Unauthorized');
        assert.equal(e.status, 401);
        assert.match(e.body ?? '', /unable to verify user credentials and\/or request signature/);
      });
      assert.ok(!err.message.includes(sim.credentials.apiKey));
      assert.ok(!err.url.includes(sim.credentials.apiKey));
      assert.match(err.url, /apiKey=\[REDACTED\]/);
    });

    it('when signatureVersion 3 expires is in the past, then the request is rejected; in the future or unversioned, accepted', async () => {
      const p = { command: 'listZones', response: 'json', apiKey: sim.credentials.apiKey, signatureVersion: '3', expires: formatExpires(new Date(Date.now() - 60_000)) };
      const expired = await request(`${sim.apiUrl}?${encodeParams({ ...p, signature: signRequest(p, sim.credentials.secretKey) })}`);
      assert.equal(expired.statusCode, 401);
      assert.equal(expired.headers['content-type'], 'application/json; charset=UTF-8');
      assert.deepEqual(await expired.body.json(), {
        listzonesresponse: { uuidList: [], errorcode: 401, errortext: 'unable to verify user credentials and/or request signature' },
      });
      const rfc3339 = { ...p, expires: new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z$/, 'Z') };
      const fresh = await request(`${sim.apiUrl}?${encodeParams({ ...rfc3339, signature: signRequest(rfc3339, sim.credentials.secretKey) })}`);
      assert.equal(fresh.statusCode, 200);
      await fresh.body.dump();
      assert.equal((await client(sim.credentials, { expiresInSeconds: 0 }).listZones()).length, 1);
    });

    it('when a request is encoded as CloudMonkey does (Go QueryEscape, + for spaces), then it verifies and the values arrive intact', async () => {
      // cmk's NewAPIRequest: keys sorted, values url.QueryEscape'd (space → "+", only [A-Za-z0-9-_.~]
      // left as is), HMAC over the lower-cased string with "+" → "%20", signature QueryEscape'd too.
      const goQueryEscape = (v: string) =>
        [...Buffer.from(v, 'utf8')]
          .map((b) => {
            const c = String.fromCharCode(b);
            if (/[A-Za-z0-9\-_.~]/.test(c)) return c;
            return b === 0x20 ? '+' : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
          })
          .join('');
      const vm = await deploy(demo, { startvm: false });
      const displayname = "compat VM (ü) & co: a+b=c/d, 100%! 'q' [x] {y} @home #1 $5 ^_^ |";
      const params: Record<string, string> = { command: 'updateVirtualMachine', id: vm.id, displayname, response: 'json', apiKey: sim.credentials.apiKey };
      const query = Object.keys(params)
        .sort()
        .map((k) => `${k}=${goQueryEscape(params[k]!)}`)
        .join('&');
      const signature = crypto.createHmac('sha1', sim.credentials.secretKey).update(query.toLowerCase().replaceAll('+', '%20')).digest('base64');
      const res = await request(`${sim.apiUrl}?${query}&signature=${goQueryEscape(signature)}`);
      const body = (await res.body.json()) as { updatevirtualmachineresponse: { virtualmachine?: { displayname: string } } };
      assert.equal(res.statusCode, 200, JSON.stringify(body));
      assert.equal(body.updatevirtualmachineresponse.virtualmachine?.displayname, displayname);
    });

    it('when parameters are sent as a POST form, then the signature verifies the same way', async () => {
      const signed = signedParams({ command: 'listTemplates', templatefilter: 'featured', name: 'Fedora 41' }, sim.credentials);
      const res = await request(sim.apiUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encodeParams(signed) });
      assert.equal(res.statusCode, 200);
      const body = (await res.body.json()) as { listtemplatesresponse: { count: number } };
      assert.equal(body.listtemplatesresponse.count, 1);
    });
  });

  describe('virtual machines', () => {
    it('when a VM is deployed with startvm=false, then it ends Stopped; start, stop and reboot move it as CloudStack does', async () => {
      const vm = await deploy(demo, { name: 'web-1', startvm: false });
      assert.equal(vm.state, 'Stopped');
      assert.equal(vm.name, 'web-1');
      assert.match(vm.nic[0]!.ipaddress!, /^10\.1\.\d+\.\d+$/);
      assert.match(vm.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);

      await rejectsWith(demo.waitForJob((await demo.rebootVirtualMachine(vm.id)).jobid), (e) => {
        assert.ok(e instanceof CloudStackJobError);
        assert.equal(e.kind, 'AsyncJobFailed');
        assert.equal(e.retryable, false);
      });

      const started = await demo.waitForJob<VmJobResult>((await demo.startVirtualMachine(vm.id)).jobid);
      assert.equal(started.virtualmachine.state, 'Running');
      assert.equal((await demo.getVirtualMachine(vm.id))!.state, 'Running');
      assert.equal((await demo.waitForJob<VmJobResult>((await demo.rebootVirtualMachine(vm.id)).jobid)).virtualmachine.state, 'Running');

      // A stop long enough to observe the transitional state.
      await simAdmin('PATCH', '/timings', { stopMs: 1000 });
      const stopRef = await demo.stopVirtualMachine(vm.id);
      assert.equal((await demo.getVirtualMachine(vm.id))!.state, 'Stopping');
      assert.equal((await demo.waitForJob<VmJobResult>(stopRef.jobid)).virtualmachine.state, 'Stopped');
    });

    it('when a deploy runs, then the VM is Starting until its job reports it Running', async () => {
      await simAdmin('PATCH', '/timings', { deployMs: 1000 });
      const ref = await demo.deployVirtualMachine({ serviceofferingid: offeringId, templateid: ubuntuId, zoneid: zoneId, name: 'booting' });
      assert.ok(ref.id && ref.jobid);
      assert.equal((await demo.getVirtualMachine(ref.id))!.state, 'Starting');
      assert.equal((await demo.queryAsyncJobResult(ref.jobid)).jobstatus, 0);
      const seen: number[] = [];
      const result = await demo.waitForJob<VmJobResult>(ref.jobid, { onProgress: (j) => seen.push(j.jobstatus) });
      assert.equal(result.virtualmachine.id, ref.id);
      assert.equal(result.virtualmachine.state, 'Running');
      assert.equal(seen.at(-1), 1);
      const job = await demo.queryAsyncJobResult(ref.jobid);
      assert.equal(job.jobinstancetype, 'VirtualMachine');
      assert.equal(job.jobinstanceid, ref.id);
      assert.equal(job.jobresulttype, 'object');
      assert.equal(job.jobresultcode, 0);
      assert.ok(job.completed);
      assert.ok((await demo.listAsyncJobs()).some((j) => j.jobid === ref.jobid && j.jobstatus === 1));
      assert.deepEqual(await other.listAsyncJobs(), []);
    });

    it('when a VM is destroyed without expunge, then it is Destroyed (hidden from its user) and later expunged', async () => {
      const vm = await deploy(demo, { name: 'doomed' });
      await simAdmin('PATCH', '/timings', { expungeDelayMs: 1000 });
      const destroyed = await demo.waitForJob<VmJobResult>((await demo.destroyVirtualMachine(vm.id)).jobid);
      assert.equal(destroyed.virtualmachine.state, 'Destroyed');
      assert.equal(await demo.getVirtualMachine(vm.id), undefined);
      assert.equal((await admin.listVirtualMachines({ id: vm.id, listall: true }))[0]!.state, 'Destroyed');
      await eventually('expunge', async () => ((await admin.listVirtualMachines({ id: vm.id, listall: true })).length === 0 ? true : undefined));
      assert.deepEqual(await demo.listVolumes({ virtualmachineid: vm.id }), []);
    });

    it('when a VM is destroyed with expunge=true, then it disappears', async () => {
      const vm = await deploy(demo);
      assert.match(vm.name, /^VM-/);
      const result = await demo.waitForJob<VmJobResult>((await demo.destroyVirtualMachine(vm.id, { expunge: true })).jobid);
      assert.equal(result.virtualmachine.state, 'Expunging');
      await eventually('VM gone', async () => (sim.state().vms.total === 0 ? true : undefined));
    });

    it('when a required deploy parameter is missing or invalid, then the answer is 431 naming it', async () => {
      await rejectsWith(demo.request('deployVirtualMachine', { serviceofferingid: offeringId, templateid: ubuntuId }), (e) => {
        assert.equal(e.status, 431);
        assert.equal(e.kind, 'BadRequest');
        assert.equal(e.retryable, false);
        assert.match(e.message, /due to missing parameter zoneid/);
        assert.match(e.body ?? '', /"cserrorcode":9999/);
      });
      await rejectsWith(demo.deployVirtualMachine({ serviceofferingid: offeringId, templateid: ubuntuId, zoneid: crypto.randomUUID() }), (e) =>
        assert.match(e.message, /Invalid parameter zoneid/),
      );
      await rejectsWith(demo.deployVirtualMachine({ serviceofferingid: offeringId, templateid: ubuntuId, zoneid: zoneId, userdata: '***not base64***' }), (e) =>
        assert.match(e.message, /User data is not base64 encoded/),
      );
    });

    it('when a stopped VM changes offering and user data, then the VM reports the new offering; a running one is refused', async () => {
      const vm = await deploy(demo, { name: 'resized' });
      const medium = (await demo.listServiceOfferings({ name: 'Medium Instance' }))[0]!;
      await rejectsWith(demo.changeServiceForVirtualMachine(vm.id, medium.id), (e) => assert.match(e.message, /make sure the virtual machine is stopped/));
      await demo.waitForJob((await demo.stopVirtualMachine(vm.id)).jobid);
      const changed = await demo.changeServiceForVirtualMachine(vm.id, medium.id);
      assert.equal(changed.serviceofferingid, medium.id);
      assert.equal(changed.cpunumber, medium.cpunumber);
      const updated = await demo.updateVirtualMachine({ id: vm.id, displayname: 'Resized', userdata: Buffer.from('#cloud-config\n').toString('base64') });
      assert.equal(updated.displayname, 'Resized');
    });

    it('when user data is large, then the client POSTs it and the deploy succeeds', async () => {
      const userdata = Buffer.from(`#cloud-config\n${'# padding\n'.repeat(400)}`).toString('base64');
      assert.ok(userdata.length > 4000);
      const vm = await deploy(demo, { userdata, name: 'with-userdata' });
      assert.equal(vm.state, 'Running');
    });

    it('when the account is over its VM limit, then deploy fails 532 QuotaExceeded', async () => {
      await deploy(other, { name: 'o1' });
      await deploy(other, { name: 'o2' });
      await rejectsWith(other.deployVirtualMachine({ serviceofferingid: offeringId, templateid: ubuntuId, zoneid: zoneId, name: 'o3' }), (e) => {
        assert.equal(e.status, 532);
        assert.equal(e.kind, 'QuotaExceeded');
      });
    });

    it('when listing with page and pagesize, then count is the total and pages split the items', async () => {
      for (const name of ['p1', 'p2', 'p3']) await deploy(demo, { name, startvm: false });
      const page2 = await demo.request<{ count: number; virtualmachine: Array<{ name: string }> }>('listVirtualMachines', { page: 2, pagesize: 2 });
      assert.equal(page2.count, 3);
      assert.deepEqual(page2.virtualmachine.map((v) => v.name), ['p3']);
      assert.deepEqual((await demo.listAll<{ name: string }>('listVirtualMachines', 'virtualmachine', {}, { pagesize: 2 })).map((v) => v.name), ['p1', 'p2', 'p3']);
    });
  });

  describe('guest networks', () => {
    it('when an isolated network is made from the default offering, then it is Allocated until a VM deployed with networkids takes an address on it', async () => {
      const offerings = await demo.listNetworkOfferings({ guestiptype: 'Isolated', zoneid: zoneId });
      assert.deepEqual(offerings.map((o) => o.name), ['DefaultIsolatedNetworkOfferingWithSourceNatService']);
      assert.equal(offerings[0]!.state, 'Enabled');
      assert.ok(offerings[0]!.service!.some((svc) => svc.name === 'SourceNat'));
      const net = await demo.createNetwork({ name: 'env-net', displaytext: 'environment', networkofferingid: offerings[0]!.id, zoneid: zoneId });
      assert.equal(net.state, 'Allocated');
      assert.equal(net.type, 'Isolated');
      assert.equal(net.displaytext, 'environment');
      assert.equal(net.networkofferingid, offerings[0]!.id);
      assert.equal(net.isdefault, false);
      assert.match(net.cidr!, /^10\.\d+\.\d+\.0\/24$/);
      const [def] = (await demo.listNetworks()).filter((n) => n.isdefault);
      assert.notEqual(net.cidr, def!.cidr, 'a new network gets its own range');
      assert.deepEqual((await demo.listNetworks({ id: net.id })).map((n) => n.name), ['env-net']);

      const vm = await deploy(demo, { name: 'on-env', networkids: net.id });
      assert.deepEqual(vm.nic.map((n) => [n.networkid, n.isdefault]), [[net.id, true]]);
      const prefix = net.cidr!.replace(/\.0\/24$/, '.');
      assert.ok(vm.nic[0]!.ipaddress!.startsWith(prefix), `${vm.nic[0]!.ipaddress} in ${net.cidr}`);
      assert.notEqual(vm.nic[0]!.ipaddress, net.gateway);
      assert.equal((await demo.listNetworks({ id: net.id }))[0]!.state, 'Implemented');

      const net2 = await demo.createNetwork({ name: 'env-net-2', networkofferingid: offerings[0]!.id, zoneid: zoneId, gateway: '192.168.77.1', netmask: '255.255.255.0' });
      assert.equal(net2.cidr, '192.168.77.0/24');
      assert.equal(net2.gateway, '192.168.77.1');
      const two = await deploy(demo, { name: 'two-nics', networkids: `${net.id},${net2.id}` });
      assert.deepEqual(two.nic.map((n) => [n.networkid, n.isdefault]), [[net.id, true], [net2.id, false]]);
      assert.equal(two.nic[1]!.ipaddress, '192.168.77.2');
    });

    it('when a network with a VM on it is deleted, then the job fails 530 until the VM is expunged, and then the network is gone', async () => {
      const net = await demo.ensureNetwork({ name: 'busy-net', zoneid: zoneId });
      const vm = await deploy(demo, { name: 'tenant', networkids: net.id });
      await rejectsWith(demo.waitForJob((await demo.deleteNetwork(net.id)).jobid), (e) => {
        assert.ok(e instanceof CloudStackJobError);
        assert.equal(e.kind, 'AsyncJobFailed');
        assert.equal(e.jobErrorCode, 530);
        assert.match(e.jobErrorText, /Failed to delete network/);
      });
      assert.equal((await demo.listNetworks({ id: net.id })).length, 1);
      await demo.waitForJob((await demo.destroyVirtualMachine(vm.id, { expunge: true })).jobid);
      await eventually('VM expunged', async () => (sim.state().vms.total === 0 ? true : undefined));
      const ok = await demo.waitForJob<SuccessJobResult>((await demo.deleteNetwork(net.id)).jobid);
      assert.equal(ok.success, true);
      assert.deepEqual(await demo.listNetworks({ id: net.id }), []);
    });

    it('when ensureNetwork and removeNetwork are repeated, then the simulator holds one network in between and none after, and other accounts keep theirs', async () => {
      const before = sim.state().networks.total;
      const a = await demo.ensureNetwork({ name: 'wf-net', zoneid: zoneId, displaytext: 'workflow network' });
      const b = await demo.ensureNetwork({ name: 'wf-net', zoneid: zoneId });
      assert.equal(a.id, b.id);
      assert.equal(sim.state().networks.total, before + 1);
      assert.equal(sim.state().requests.byCommand.createNetwork, 1);
      const theirs = await other.ensureNetwork({ name: 'wf-net', zoneid: zoneId });
      assert.notEqual(theirs.id, a.id, 'another account\'s network of the same name is not ours');
      await rejectsWith(demo.deleteNetwork(theirs.id), (e) => assert.equal(e.status, 531));
      assert.equal(await demo.removeNetwork('wf-net', zoneId, { pollIntervalMs: 15 }), 1);
      assert.equal(await demo.removeNetwork('wf-net', zoneId, { pollIntervalMs: 15 }), 0);
      assert.equal(sim.state().networks.total, before + 1);
      assert.deepEqual((await other.listNetworks({ id: theirs.id })).map((n) => n.name), ['wf-net']);
    });

    it('when createNetwork or deleteNetwork parameters are wrong, then 431 or 531 name the problem', async () => {
      const isolated = (await demo.listNetworkOfferings({ guestiptype: 'Isolated' }))[0]!.id;
      const shared = (await demo.listNetworkOfferings({ guestiptype: 'Shared' }))[0]!.id;
      await rejectsWith(demo.request('createNetwork', { networkofferingid: isolated, zoneid: zoneId }), (e) => {
        assert.equal(e.status, 431);
        assert.match(e.message, /missing parameter name/);
      });
      await rejectsWith(demo.createNetwork({ name: 'x', networkofferingid: crypto.randomUUID(), zoneid: zoneId }), (e) => assert.equal(e.status, 431));
      await rejectsWith(demo.createNetwork({ name: 'x', networkofferingid: shared, zoneid: zoneId }), (e) => assert.equal(e.status, 531));
      await rejectsWith(demo.createNetwork({ name: 'x', networkofferingid: isolated, zoneid: zoneId, gateway: '10.9.9.1' }), (e) => {
        assert.equal(e.status, 431);
        assert.match(e.message, /gateway and netmask/);
      });
      await rejectsWith(demo.createNetwork({ name: 'x', networkofferingid: isolated, zoneid: zoneId, gateway: '10.9.9.1', netmask: '255.255.0.0' }), (e) => assert.equal(e.status, 431));
      const [def] = (await demo.listNetworks()).filter((n) => n.isdefault);
      await rejectsWith(demo.deleteNetwork(def!.id), (e) => assert.equal(e.status, 431));
      await rejectsWith(demo.deleteNetwork(crypto.randomUUID()), (e) => assert.equal(e.status, 431));
      assert.equal(sim.state().networks.items.filter((n) => n.name === 'x').length, 0);
    });
  });

  describe('templates, snapshots and export', () => {
    it('when a template is registered from a URL, then it downloads to Download Complete with its size and checksum verified', async () => {
      const t = await demo.registerTemplate({
        name: 'tiny',
        format: 'QCOW2',
        hypervisor: 'KVM',
        url: `${imageBase}/moved`,
        ostypeid: osTypeId,
        zoneid: '-1',
        checksum: `{SHA-256}${sha256}`,
      });
      assert.equal(t.isready, false);
      assert.equal(t.templatetype, 'USER');
      const ready = await eventually('download complete', async () => {
        const [cur] = await demo.listTemplates({ templatefilter: 'self', id: t.id });
        return cur?.isready ? cur : undefined;
      });
      assert.equal(ready.status, 'Download Complete');
      assert.equal(ready.size, 1024 ** 3);
      assert.equal(ready['physicalsize'], image.length);
      assert.ok((await demo.listTemplates({ templatefilter: 'selfexecutable' })).some((x) => x.id === t.id));
    });

    it('when the template URL answers 404 or the checksum differs, then the template stays not ready with the error in status', async () => {
      const missing = await demo.registerTemplate({ name: 'missing', format: 'QCOW2', hypervisor: 'KVM', url: `${imageBase}/missing.qcow2`, ostypeid: osTypeId, zoneid: zoneId });
      const wrong = await demo.registerTemplate({
        name: 'wrongsum',
        format: 'QCOW2',
        hypervisor: 'KVM',
        url: `${imageBase}/tiny.qcow2`,
        ostypeid: osTypeId,
        zoneid: zoneId,
        checksum: `{MD5}${'0'.repeat(32)}`,
      });
      const failed = async (id: string) =>
        eventually(`failure of ${id}`, async () => {
          const [cur] = await demo.listTemplates({ templatefilter: 'self', id });
          return cur?.status?.startsWith('Failed') ? cur : undefined;
        });
      const m = await failed(missing.id);
      assert.equal(m.isready, false);
      assert.match(m.status!, /HTTP Server returned 404/);
      const w = await failed(wrong.id);
      assert.equal(w.isready, false);
      assert.match(w.status!, /checksum/);
      assert.ok(!(await demo.listTemplates({ templatefilter: 'executable' })).some((x) => x.id === missing.id));
      await rejectsWith(demo.deployVirtualMachine({ serviceofferingid: offeringId, templateid: missing.id, zoneid: zoneId }), (e) =>
        assert.match(e.message, /has not been completely downloaded/),
      );
    });

    it('when a stopped VM is exported through createTemplate and extractTemplate, then the download equals the source image', async () => {
      const source = await registerReady(demo, 'exportable');
      const vm = await deploy(demo, { name: 'exported' }, source.id);
      const [root] = await demo.listVolumes({ virtualmachineid: vm.id, type: 'ROOT' });
      assert.equal(root!.type, 'ROOT');
      await rejectsWith(demo.createTemplate({ name: 'too-early', ostypeid: osTypeId, volumeid: root!.id }), (e) => {
        assert.equal(e.status, 530);
        assert.match(e.message, /stop the VM first/);
      });
      await demo.waitForJob((await demo.stopVirtualMachine(vm.id)).jobid);
      const ref = await demo.createTemplate({ name: 'exported-backup', ostypeid: osTypeId, volumeid: root!.id });
      const { template } = await demo.waitForJob<TemplateJobResult>(ref.jobid);
      assert.equal(template.id, ref.id);
      assert.equal(template.isready, true);
      assert.equal(template.isextractable, true);
      const extract = await demo.waitForJob<ExtractJobResult>((await demo.extractTemplate({ id: template.id })).jobid);
      assert.equal(extract.template.state, 'DOWNLOAD_URL_CREATED');
      assert.equal(extract.template.extractMode, 'HTTP_DOWNLOAD');
      assert.ok(extract.template.url.startsWith(`${sim.url}/download/`));
      assert.ok(!extract.template.url.includes('/client/api'));
      assert.ok((await download(extract.template.url)).equals(image));
      const ranged = await request(extract.template.url, { headers: { range: 'bytes=100-199' } });
      assert.equal(ranged.statusCode, 206);
      assert.ok(Buffer.from(await ranged.body.arrayBuffer()).equals(image.subarray(100, 200)));
    });

    it('when a snapshot becomes a template and is extracted, then the bytes equal the source; deleting the snapshot removes it', async () => {
      const source = await registerReady(demo, 'snap-source');
      const vm = await deploy(demo, { name: 'snapped' }, source.id);
      const [root] = await demo.listVolumes({ virtualmachineid: vm.id, type: 'ROOT' });
      const snapRef = await demo.createSnapshot({ volumeid: root!.id });
      const { snapshot } = await demo.waitForJob<SnapshotJobResult>(snapRef.jobid);
      assert.equal(snapshot.id, snapRef.id);
      assert.equal(snapshot.state, 'BackedUp');
      assert.equal((await demo.listSnapshots({ volumeid: root!.id }))[0]!.id, snapshot.id);
      const { template } = await demo.waitForJob<TemplateJobResult>((await demo.createTemplate({ name: 'from-snap', ostypeid: osTypeId, snapshotid: snapshot.id })).jobid);
      const extract = await demo.waitForJob<ExtractJobResult>((await demo.extractTemplate({ id: template.id })).jobid);
      assert.ok((await download(extract.template.url)).equals(image));
      const deleted = await demo.waitForJob<SuccessJobResult>((await demo.deleteSnapshot(snapshot.id)).jobid);
      assert.equal(deleted.success, true);
      assert.deepEqual(await demo.listSnapshots({ id: snapshot.id }), []);
    });

    it('when the source template was not extractable, then extractTemplate fails in its job with 431', async () => {
      const source = await registerReady(demo, 'locked', { isextractable: false });
      const vm = await deploy(demo, { startvm: false, name: 'locked-vm' }, source.id);
      const [root] = await demo.listVolumes({ virtualmachineid: vm.id, type: 'ROOT' });
      const { template } = await demo.waitForJob<TemplateJobResult>((await demo.createTemplate({ name: 'locked-copy', ostypeid: osTypeId, volumeid: root!.id })).jobid);
      assert.equal(template.isextractable, false);
      await rejectsWith(demo.waitForJob((await demo.extractTemplate({ id: template.id })).jobid), (e) => {
        assert.ok(e instanceof CloudStackJobError);
        assert.equal(e.jobErrorCode, 431);
        assert.match(e.message, /not extractable/);
        assert.equal(e.retryable, false);
      });
    });

    it('when a template in use is deleted, then the job fails unless forced', async () => {
      const t = await registerReady(demo, 'in-use');
      await deploy(demo, { name: 'user-of-template', startvm: false }, t.id);
      await rejectsWith(demo.waitForJob((await demo.deleteTemplate(t.id)).jobid), (e) => assert.match(e.message, /are using it/));
      await demo.waitForJob((await demo.deleteTemplate(t.id, { forced: true })).jobid);
      assert.deepEqual(await demo.listTemplates({ templatefilter: 'self', id: t.id }), []);
    });

    it('when an extract URL has expired, then it answers 404', async () => {
      await simAdmin('PATCH', '/timings', { downloadUrlTtlMs: 30 });
      const extract = await demo.waitForJob<ExtractJobResult>((await demo.extractTemplate({ id: ubuntuId })).jobid).catch((e) => e);
      // Featured templates belong to the system account, so a user may not extract them.
      assert.ok(extract instanceof CloudStackJobError);
      assert.equal(extract.jobErrorCode, 531);
      const t = await registerReady(demo, 'short-lived');
      const ok = await demo.waitForJob<ExtractJobResult>((await demo.extractTemplate({ id: t.id })).jobid);
      await eventually('URL expiry', async () => {
        const res = await request(ok.template.url);
        await res.body.dump();
        return res.statusCode === 404 ? true : undefined;
      });
      await simAdmin('PATCH', '/timings', { downloadUrlTtlMs: 60_000 });
    });
  });

  describe('account isolation', () => {
    it('when two accounts work side by side, then each sees only its own VMs and templates plus the featured ones', async () => {
      const mine = await deploy(demo, { name: 'mine', startvm: false });
      const priv = await registerReady(demo, 'private-image');
      assert.deepEqual(await other.listVirtualMachines(), []);
      assert.ok(!(await other.listTemplates({ templatefilter: 'executable' })).some((t) => t.id === priv.id));
      assert.equal((await other.listTemplates({ templatefilter: 'featured' })).length, 4);
      await rejectsWith(other.startVirtualMachine(mine.id), (e) => {
        assert.equal(e.status, 531);
        assert.equal(e.kind, 'Forbidden');
      });
      await rejectsWith(other.deployVirtualMachine({ serviceofferingid: offeringId, templateid: priv.id, zoneid: zoneId }), (e) => assert.equal(e.kind, 'Forbidden'));
      const ref = await demo.startVirtualMachine(mine.id);
      await rejectsWith(other.queryAsyncJobResult(ref.jobid), (e) => assert.equal(e.status, 531));
      assert.equal((await admin.listVirtualMachines({ listall: true })).length, 1);
      assert.equal((await admin.listVirtualMachines()).length, 0);
    });
  });

  describe('fault injection', () => {
    it('when a 429 burst with Retry-After is injected, then calls fail RateLimited with retryAfterMs until the burst is spent', async () => {
      const { status, body } = await simAdmin<{ id: string; kind: string }>('POST', '/faults', { command: 'listZones', retryAfter: 2, count: 2 });
      assert.equal(status, 201);
      assert.equal(body.kind, 'rateLimit');
      for (let i = 0; i < 2; i++) {
        await rejectsWith(demo.listZones(), (e) => {
          assert.equal(e.kind, 'RateLimited');
          assert.equal(e.status, 429);
          assert.equal(e.retryAfterMs, 2000);
          assert.equal(e.retryable, true);
        });
      }
      assert.equal((await demo.listZones()).length, 1);
      assert.equal((await simAdmin<{ faults: unknown[] }>('GET', '/faults')).body.faults.length, 0);
    });

    it('when error faults with CloudStack codes are injected, then each maps to its error kind', async () => {
      const cases: Array<[number, string, boolean]> = [
        [530, 'Unavailable', true],
        [531, 'Forbidden', false],
        [532, 'QuotaExceeded', false],
        [533, 'Unavailable', true],
        [534, 'Unavailable', true],
        [536, 'Conflict', true],
        [431, 'BadRequest', false],
      ];
      for (const [code, kind, retryable] of cases) {
        await simAdmin('POST', '/faults', { command: 'listServiceOfferings', status: code, count: 1 });
        await rejectsWith(demo.listServiceOfferings(), (e) => {
          assert.equal(e.status, code);
          assert.equal(e.kind, kind, `kind for ${code}`);
          assert.equal(e.retryable, retryable, `retryable for ${code}`);
        });
      }
      assert.equal((await demo.listServiceOfferings()).length, 4);
    });

    it('when a fault has rate 0 or targets another command, then it never fires', async () => {
      await simAdmin('POST', '/faults', { command: 'listZones', rate: 0 });
      await simAdmin('POST', '/faults', { command: 'listNetworks' });
      for (let i = 0; i < 5; i++) assert.equal((await demo.listZones()).length, 1);
      const { body } = await simAdmin<{ faults: Array<{ fired: number; command: string }> }>('GET', '/faults');
      assert.deepEqual(body.faults.map((f) => f.fired), [0, 0]);
      await rejectsWith(demo.listNetworks(), (e) => assert.equal(e.status, 530));
      assert.equal((await simAdmin('DELETE', '/faults')).status, 204);
      assert.equal((await demo.listNetworks()).length, 1);
    });

    it('when a request hangs, then the client times out with Timeout or passes on the caller\'s cancellation; a latency fault only delays', async () => {
      await simAdmin('POST', '/faults', { command: 'listZones', hang: true, count: 1 });
      const quick = client(sim.credentials, { timeoutMs: 300 });
      await rejectsWith(quick.listZones(), (e) => {
        assert.equal(e.kind, 'Timeout');
        assert.equal(e.retryable, true);
      });
      await simAdmin('POST', '/faults', { command: 'listZones', hang: true, count: 1 });
      const cancel = new AbortController();
      const pending = quick.listZones({}, { signal: cancel.signal, timeoutMs: 10_000 });
      setTimeout(() => cancel.abort(new Error('cancelled by the caller')), 50);
      await assert.rejects(pending, (e: unknown) => !(e instanceof CloudApiError) && (e as Error).message === 'cancelled by the caller');
      const { body } = await simAdmin<{ id: string }>('POST', '/faults', { command: 'listZones', latencyMs: 30, count: 1 });
      assert.equal((await quick.listZones()).length, 1);
      assert.equal((await simAdmin('GET', `/faults/${body.id}`)).status, 404);
    });

    it('when the server refuses connections, then calls fail Network, and they recover when the outage ends', async () => {
      assert.equal((await simAdmin('POST', '/outage', { mode: 'refuse' })).status, 200);
      await rejectsWith(demo.listZones(), (e) => {
        assert.equal(e.kind, 'Network');
        assert.equal(e.retryable, true);
      });
      await simAdmin('POST', '/outage', { mode: '503' });
      await rejectsWith(demo.listZones(), (e) => {
        assert.equal(e.kind, 'Unavailable');
        assert.equal(e.status, 503);
      });
      await simAdmin('DELETE', '/outage');
      assert.equal((await demo.listZones()).length, 1);
    });

    it('when an async job is made to fail, then waitForJob throws AsyncJobFailed, retryable only for capacity errors', async () => {
      await simAdmin('POST', '/faults', { command: 'deployVirtualMachine', asyncJobFail: true, status: 533, count: 1 });
      const ref = await demo.deployVirtualMachine({ serviceofferingid: offeringId, templateid: ubuntuId, zoneid: zoneId, name: 'unlucky' });
      const err = await rejectsWith(demo.waitForJob(ref.jobid), (e) => {
        assert.ok(e instanceof CloudStackJobError);
        assert.equal(e.kind, 'AsyncJobFailed');
        assert.equal(e.jobErrorCode, 533);
        assert.equal(e.retryable, true);
      });
      assert.equal((err as CloudStackJobError).jobId, ref.jobid);
      const job = await demo.queryAsyncJobResult(ref.jobid);
      assert.equal(job.jobstatus, 2);
      assert.equal(job.jobresultcode, 530);
      assert.deepEqual(Object.keys(job.jobresult!).sort(), ['errorcode', 'errortext']);
      assert.equal((await demo.getVirtualMachine(ref.id!))!.state, 'Error');

      const vm = await deploy(demo, { name: 'lucky' });
      await simAdmin('POST', '/faults', { command: 'stopVirtualMachine', asyncJobFail: true, count: 1 });
      await rejectsWith(demo.waitForJob((await demo.stopVirtualMachine(vm.id)).jobid), (e) => assert.equal(e.retryable, false));
      assert.equal((await demo.getVirtualMachine(vm.id))!.state, 'Running');
    });

    it('when polling hits a transient error, then waitForJob rides it out', async () => {
      const ref = await demo.deployVirtualMachine({ serviceofferingid: offeringId, templateid: ubuntuId, zoneid: zoneId, name: 'patient' });
      await simAdmin('POST', '/faults', { command: 'queryAsyncJobResult', status: 534, count: 2 });
      assert.equal((await demo.waitForJob<VmJobResult>(ref.jobid)).virtualmachine.state, 'Running');
    });

    it('when template downloads are made to fail, then registerTemplate succeeds but the template never becomes ready', async () => {
      await simAdmin('POST', '/faults', { downloadFail: true, count: 1 });
      const t = await demo.registerTemplate({ name: 'doomed-image', format: 'QCOW2', hypervisor: 'KVM', url: `${imageBase}/tiny.qcow2`, ostypeid: osTypeId, zoneid: zoneId });
      const failed = await eventually('download failure', async () => {
        const [cur] = await demo.listTemplates({ templatefilter: 'self', id: t.id });
        return cur?.status?.startsWith('Failed') ? cur : undefined;
      });
      assert.equal(failed.isready, false);
      assert.match(failed.status!, /simulated download failure/);
    });

    it('when a VM is broken through the admin API, then the API reports the new state or the VM is gone', async () => {
      const a = await deploy(demo, { name: 'break-a' });
      const b = await deploy(demo, { name: 'break-b' });
      const c = await deploy(demo, { name: 'break-c' });
      assert.equal((await simAdmin('POST', `/vms/${a.id}/break`, { mode: 'error' })).status, 200);
      await simAdmin('POST', `/vms/${b.id}/break`, { mode: 'stopped' });
      await simAdmin('POST', `/vms/${c.id}/break`, { mode: 'gone' });
      assert.equal((await demo.getVirtualMachine(a.id))!.state, 'Error');
      assert.equal((await demo.getVirtualMachine(b.id))!.state, 'Stopped');
      assert.equal(await demo.getVirtualMachine(c.id), undefined);
      assert.equal((await simAdmin('POST', `/vms/${crypto.randomUUID()}/break`, { mode: 'gone' })).status, 404);
      assert.equal((await simAdmin('POST', '/faults', { status: 200 })).status, 400);
      assert.equal((await simAdmin('PATCH', '/timings', { nonsense: 1 })).status, 400);
    });

    it('when activity happens, then /_sim/state counts VMs, templates, jobs and requests per command', async () => {
      await deploy(demo, { name: 'counted', startvm: false });
      await demo.listZones();
      await rejectsWith(client({ apiKey: 'nobody', secretKey: 'x' }).listZones(), (e) => assert.equal(e.kind, 'Unauthorized'));
      const { status, body } = await simAdmin<SimStateSummary>('GET', '/state');
      assert.equal(status, 200);
      assert.equal(body.vms.total, 1);
      assert.equal(body.vms.byState.Stopped, 1);
      assert.equal(body.templates.total, 4);
      assert.equal(body.templates.ready, 4);
      assert.equal(body.jobs.byStatus.succeeded, 1);
      assert.equal(body.requests.byCommand.deployVirtualMachine, 1);
      assert.equal(body.requests.byCommand.listZones, 3);
      assert.equal(body.outage, null);
      assert.deepEqual(sim.state().vms.byState, body.vms.byState);
    });
  });

  describe('persistence', () => {
    it('when a simulator with a state file restarts, then its VMs and templates are still there', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cssim-state-'));
      const stateFile = path.join(dir, 'state.json');
      try {
        const first = await startCloudStackSimulator({ stateFile });
        const c1 = new CloudStackClient({ apiUrl: first.apiUrl, ...first.credentials, pollIntervalMs: 15 });
        const ref = await c1.deployVirtualMachine({ serviceofferingid: offeringId, templateid: ubuntuId, zoneid: zoneId, name: 'survivor' });
        await c1.waitForJob(ref.jobid);
        await first.stop();
        const second = await startCloudStackSimulator({ stateFile });
        try {
          const c2 = new CloudStackClient({ apiUrl: second.apiUrl, ...second.credentials, pollIntervalMs: 15 });
          const vm = await c2.getVirtualMachine(ref.id!);
          assert.equal(vm?.name, 'survivor');
          assert.equal(vm?.state, 'Running');
          assert.equal((await c2.queryAsyncJobResult(ref.jobid)).jobstatus, 1);
        } finally {
          await second.stop();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
