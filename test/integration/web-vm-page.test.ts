/**
 * The web console's VM page in a real browser (headless Chromium through playwright-core), beside
 * test/integration/web-console.test.ts, against the same whole stack (API serving web/dist, a
 * worker, the simulators, the image store). A member's VM is changed through the update form — a
 * resize goes ahead at once; a user is added (the API's 400 at that user's Groups, then at a second
 * user's name, which is removed again) with new software, which shows the replace plan and runs
 * only once confirmed — then backed up (its task graph drawn: a box per task with its state, an arrow per `requires`),
 * protected (the DR state machine lit at Protected), given a guest health check (the API's 400 at
 * its field, then saved and seen passing), drilled (a drill report: passed, timed, cleaned up),
 * failed over to CloudStack and back (the machine lit at each state; the events carry RPO and
 * RTO). A member's page links nowhere into the Temporal Web UI; once the member holds the operator
 * role, the operation, backup, drill and DR workflow each have a link; the page then reads in
 * Korean. axe-core runs on every view (no serious or critical violation); screenshots go to
 * data/screenshots/ (`vm-page-*`, the two drawings alone as `vm-page-*-drawing.png`).
 * The tests share one member and VM and run in order.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { grantRole, OPERATOR_ROLE } from '../../src/accounts/roles';
import { ensureWebBuilt } from '../../scripts/web';
import type { TestApi } from '../harness/api';
import { checkAccessibility, launchBrowser, screenshot, SCREENSHOT_DIR, type AxeViolation } from '../harness/browser';
import { startDrSystem, type DrSystem } from '../harness/dr-system';
import { apiCall, waitUntil } from '../harness/http';
import { signupAndLogin, type TestUser } from '../harness/users';

type Json = any;

describe('web console: the VM page in a real browser (update, task graph, DR machine, drills, health check, operator links)', function () {
  this.timeout(600_000);
  let sys: DrSystem;
  let api: TestApi;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let member: TestUser;
  let vmId = '';
  const vmName = `page${crypto.randomBytes(3).toString('hex')}`;
  const axeResults: Array<{ page: string; violations: AxeViolation[] }> = [];

  const call = (method: string, p: string, body?: unknown) => apiCall(api.url, member, method, p, body);
  const vm = async (): Promise<Json> => (await call('GET', `/api/v1/vms/${vmId}`)).body.vm;

  async function audit(name: string): Promise<void> {
    const violations = await checkAccessibility(page);
    axeResults.push({ page: name, violations });
    await screenshot(page, name);
    assert.deepEqual(violations, [], `axe found serious or critical violations on ${name}:\n${JSON.stringify(violations, null, 2)}`);
  }

  /** The DR state machine's lit box (its data-node), once it is `node`. */
  async function litState(node: string, timeout: number): Promise<void> {
    await page.locator(`svg[data-testid="dr-machine"] g[data-current="true"][data-node="${node}"]`).waitFor({ timeout });
    assert.equal(await page.locator('svg[data-testid="dr-machine"] g[data-current="true"]').count(), 1, 'one state is lit');
    assert.match((await page.locator('svg[data-testid="dr-machine"] g[data-current="true"]').textContent()) ?? '', /now/, 'the lit state says "now", not colour alone');
  }

  before(async function () {
    this.timeout(300_000);
    await ensureWebBuilt();
    sys = await startDrSystem();
    api = sys.api;
    browser = await launchBrowser();
    // The member and a running VM, made through the API (the New VM form has its own test).
    member = await signupAndLogin(api.url);
    const created = await call('POST', '/api/v1/vms', { name: vmName, os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    vmId = created.body.vm.id;
    await waitUntil('VM active', async () => ((await vm()).state === 'active' ? true : undefined), 180_000);
    context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    await page.goto(`${api.url}/login`);
    await page.getByLabel('ID').fill(member.username);
    await page.getByLabel('Password').fill(member.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'My VMs', level: 1 }).waitFor();
  });

  after(async () => {
    if (vmId && member) {
      await call('DELETE', `/api/v1/vms/${vmId}/dr`).catch(() => undefined);
      await call('DELETE', `/api/v1/vms/${vmId}`).catch(() => undefined);
    }
    await context?.close();
    await browser?.close();
    await sys?.stop();
    if (axeResults.length) console.log(`      axe-core: ${axeResults.length} page views checked, ${axeResults.reduce((n, r) => n + r.violations.length, 0)} serious or critical violations`);
  });

  it('when the member changes the size, then it goes ahead at once; when they add a user (refused at its fields first) and software, then the page shows the replace plan and the change runs only once confirmed', async () => {
    await page.goto(`${api.url}/vms/${vmId}`);
    await page.getByRole('heading', { name: `VM ${vmName}` }).waitFor();
    // A member's page has no way into the Temporal Web UI.
    assert.equal(await page.getByRole('link', { name: /Temporal Web UI/ }).count(), 0);
    assert.ok(!(await page.content()).includes(api.deps.config.temporalUiUrl), 'the UI’s address is nowhere in a member’s page');

    // Nothing changed: said so, nothing sent.
    const update = page.getByRole('region', { name: 'Change this VM' });
    await update.getByRole('button', { name: 'Review and change' }).click();
    await page.getByRole('status').filter({ hasText: 'Nothing is different' }).waitFor();

    // A resize changes the server in place: no confirmation, the update runs.
    await update.getByLabel('Size').selectOption('medium');
    await update.getByRole('button', { name: 'Review and change' }).click();
    await page.getByRole('status').filter({ hasText: 'The update has started.' }).waitFor();
    assert.match((await page.getByTestId('update-plan').textContent()) ?? '', /Size/);
    await page.getByTestId('vm-size').filter({ hasText: /^medium$/ }).waitFor({ timeout: 120_000 });
    await page.getByTestId('vm-state').filter({ hasText: 'Running' }).waitFor({ timeout: 120_000 });
    // A smaller disk is not offered any more.
    assert.equal(await update.getByLabel('Size').locator('option[value="small"]').isDisabled(), true);

    // Users: the API's 400 at the field it names, down to one user's field, worded as the API words it.
    const users = update.getByRole('group', { name: 'Users', exact: true });
    const userGroup = (n: number) => users.getByRole('group', { name: `User ${n}`, exact: true });
    /** The error text tied to a field (aria-describedby's `-error`), once the field is marked invalid. */
    const errorAt = async (field: ReturnType<Page['getByLabel']>): Promise<string> => {
      await field.and(page.locator('[aria-invalid="true"]')).waitFor();
      const id = ((await field.getAttribute('aria-describedby')) ?? '').split(' ').find((x) => x.endsWith('-error'));
      return ((await page.locator(`[id="${id}"]`).textContent()) ?? '').trim();
    };
    const apiErrors = async (patch: unknown): Promise<Record<string, string>> => {
      const r = await call('PATCH', `/api/v1/vms/${vmId}`, patch);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      return Object.fromEntries((r.body.error.fields as Json[]).map((f) => [f.field, f.message]));
    };
    assert.equal(await users.getByText('No users besides the image’s default user.').count(), 1);
    await users.getByRole('button', { name: 'Add a user' }).click();
    // The new user's name takes the focus.
    assert.equal(await page.evaluate('document.activeElement.name'), 'users-1-name');
    await page.keyboard.type('ops');
    await userGroup(1).getByLabel('Groups').fill('adm, Wheel');
    await update.getByRole('button', { name: 'Review and change' }).click();
    const groupsError = await errorAt(userGroup(1).getByLabel('Groups'));
    assert.equal(groupsError, (await apiErrors({ users: [{ name: 'ops', groups: ['adm', 'Wheel'] }] }))['users[0].groups[1]'], 'the API’s message for users[0].groups[1], at that user’s Groups');
    await update.getByText('Some fields need attention.').waitFor();

    // A second user named as the image's default user: refused at that user's name.
    await userGroup(1).getByLabel('Groups').fill('adm, wheel');
    await userGroup(1).getByLabel('May use sudo without a password').check();
    await users.getByRole('button', { name: 'Add a user' }).click();
    await userGroup(2).getByLabel('User name').fill('ubuntu');
    await update.getByRole('button', { name: 'Review and change' }).click();
    const nameError = await errorAt(userGroup(2).getByLabel('User name'));
    assert.match(nameError, /default user/);
    assert.equal(nameError, (await apiErrors({ users: [{ name: 'ops', groups: ['adm', 'wheel'], sudo: true }, { name: 'ubuntu' }] }))['users[1].name']);
    assert.equal(await userGroup(1).locator('[aria-invalid="true"]').count(), 0, 'the first user is fine now');
    await audit('vm-page-users-error');
    // Removed: the user and its error are gone, and the focus is back on "Add a user".
    await userGroup(2).getByRole('button', { name: 'Remove user 2' }).click();
    assert.equal(await userGroup(2).count(), 0);
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Add a user');
    assert.equal(await update.locator('[aria-invalid="true"]').count(), 0);
    assert.equal((await vm()).revision, 1, 'nothing was changed by the refused requests');

    // New software replaces the server: the plan is shown and nothing starts until confirmed.
    await update.getByLabel('Git').check();
    await update.getByRole('button', { name: 'Review and change' }).click();
    const confirmBox = page.getByRole('group', { name: 'What this change does' });
    await confirmBox.waitFor();
    const plan = (await confirmBox.textContent()) ?? '';
    assert.match(plan, /Replaces the server with a new one/);
    assert.match(plan, /Software/);
    assert.match(plan, /Users/);
    assert.match(plan, /everything written to its disk since it was created is lost/);
    assert.equal((await vm()).revision, 1, 'only the resize ran: nothing started for the software yet');
    await audit('vm-page-update-confirm');

    // Cancel, ask again, confirm: the same change with ?confirm=replace goes ahead.
    await confirmBox.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await confirmBox.count(), 0);
    await update.getByRole('button', { name: 'Review and change' }).click();
    await confirmBox.getByRole('button', { name: 'Replace the server and apply' }).click();
    await page.getByRole('status').filter({ hasText: 'The update has started.' }).waitFor();
    assert.equal(await confirmBox.count(), 0, 'the confirmation is gone once accepted');
    // It runs like every operation: its steps under Progress, the history says it updated, and the
    // VM is Running again with the new software — all without a reload.
    await page.getByTestId('vm-software').filter({ hasText: 'git' }).waitFor({ timeout: 180_000 });
    await page.getByTestId('vm-state').filter({ hasText: 'Running' }).waitFor({ timeout: 180_000 });
    const progress = page.locator('section[aria-labelledby="progress-title"]');
    await progress.filter({ hasText: 'updateVm: completed' }).waitFor({ timeout: 30_000 });
    assert.ok((await progress.locator('ol.steps li.done').count()) >= 2, 'its steps are done');
    await page.locator('ol.timeline li').filter({ hasText: /Running → Updating: update to revision 2/ }).waitFor({ timeout: 30_000 });
    const after = await vm();
    assert.equal(after.revision, 2);
    assert.deepEqual([...after.requirements.software].sort(), ['git', 'vim']);
    assert.deepEqual(after.requirements.users, [{ name: 'ops', groups: ['adm', 'wheel'], sudo: true }]);
    await page.getByTestId('vm-users').filter({ hasText: /^ops \(sudo\)$/ }).waitFor();
    assert.equal(after.requirements.size, 'medium');
    await audit('vm-page-updated');
  });

  it('when the member backs the VM up, then its task graph is drawn: a box per task with its state and duration, an arrow per requirement, and the same in a table', async () => {
    await page.getByRole('button', { name: 'Back up now' }).click();
    const graph = page.locator('svg[data-testid="task-graph"]');
    await page.locator('table[aria-labelledby="backups-title"] tbody tr').filter({ hasText: 'succeeded' }).first().waitFor({ timeout: 240_000 });
    const backup = (await call('GET', `/api/v1/vms/${vmId}/backups`)).body.backups[0] as Json;
    await graph.locator('g.node[data-state="succeeded"]').nth(backup.tasks.filter((t: Json) => t.state === 'succeeded').length - 1).waitFor();
    assert.equal(await graph.locator('g.node').count(), backup.tasks.length, 'a box per task');
    for (const task of backup.tasks as Json[]) {
      const box = graph.locator(`g.node[data-task="${task.name}"]`);
      assert.equal(await box.getAttribute('data-state'), task.state);
      const text = (await box.textContent()) ?? '';
      assert.ok(text.includes(task.name) && text.includes(task.state === 'pending' ? 'waiting' : task.state), `${task.name}: the state is written, not only coloured (${text})`);
      if (task.startedAt && task.finishedAt) assert.match(text, /\d+(\.\d)?\s*(sec|min)/, `${task.name} shows its duration`);
    }
    const requires = (backup.tasks as Json[]).flatMap((t) => (t.requires as string[]).map((r) => `${r}>${t.name}`));
    assert.equal(await graph.locator('path.edge').count(), requires.length, 'an arrow per requirement');
    assert.equal(await graph.locator('path.edge[data-from="snapshot"][data-to="await-image"]').count(), 1);
    // Layers: a task is drawn below every task it requires.
    const y = async (name: string) => Number(((await graph.locator(`g.node[data-task="${name}"]`).getAttribute('transform')) ?? '').match(/,\s*([\d.]+)\)/)?.[1]);
    assert.ok((await y('snapshot')) < (await y('await-image')) && (await y('await-image')) < (await y('record-metadata')));
    // For screen readers: a titled image and the same data as a table.
    assert.match((await graph.locator('title').textContent()) ?? '', /Task graph of the backup started/);
    assert.equal(await graph.getAttribute('role'), 'img');
    const table = page.getByRole('table', { name: /Tasks of the backup started/ });
    assert.equal(await table.locator('tbody tr').count(), backup.tasks.length);
    const awaitImage = table.locator('tbody tr').filter({ has: page.getByRole('rowheader', { name: 'await-image', exact: true }) });
    assert.match((await awaitImage.textContent()) ?? '', /succeeded.*snapshot/);
    await graph.screenshot({ path: path.join(SCREENSHOT_DIR, 'vm-page-task-graph-drawing.png') });
    await audit('vm-page-task-graph');
  });

  it('when the member protects the VM, sets a guest health check and runs a drill, then the machine is lit at Protected, a bad port is refused at its field, the check passes, and the drill report says what was checked', async () => {
    await page.getByRole('button', { name: 'Protect (turn DR on)' }).click();
    await page.getByTestId('dr-state').filter({ hasText: /^Protected$/ }).waitFor({ timeout: 120_000 });
    await litState('Protected', 30_000);

    // The health check: the API's 400 at the Port field, then saved and seen by the monitor.
    const form = page.getByRole('form', { name: 'Guest health check' });
    await form.getByLabel('Protocol').selectOption('http');
    await form.getByLabel('Port').fill('70000');
    await form.getByLabel('Path').fill('/health');
    await form.getByRole('button', { name: 'Save health check' }).click();
    await form.locator('input[name="port"][aria-invalid="true"]').waitFor();
    const describedBy = (await form.getByLabel('Port').getAttribute('aria-describedby')) ?? '';
    const portError = await page.locator(`[id="${describedBy.split(' ').find((id) => id.endsWith('-error'))}"]`).textContent();
    assert.ok(portError && portError.length > 0, 'the API’s message for healthCheck.port is at the Port field');
    await form.getByText('Some fields need attention.').waitFor();
    await audit('vm-page-health-check-error');

    await form.getByLabel('Port').fill(String(sys.clouds.guestPort));
    await form.getByLabel('Seconds between checks').fill('5');
    await form.getByRole('button', { name: 'Save health check' }).click();
    await form.getByRole('status').filter({ hasText: 'The health check is saved.' }).waitFor();
    await form.getByRole('button', { name: 'Remove health check' }).waitFor({ timeout: 30_000 });
    const stored = (await call('GET', `/api/v1/vms/${vmId}/dr`)).body;
    assert.deepEqual(stored.healthCheck, { protocol: 'http', port: sys.clouds.guestPort, path: '/health', intervalSeconds: 5 });
    await page.getByTestId('guest-status').filter({ hasText: /passing.*armed: a failure counts/ }).waitFor({ timeout: 90_000 });

    await page.getByRole('button', { name: 'Run a drill' }).click();
    const reports = page.locator('table[data-testid="drill-reports"]');
    const row = reports.locator('tbody tr').first();
    await row.waitFor({ timeout: 180_000 });
    const text = (await row.textContent()) ?? '';
    const drill = (await call('GET', `/api/v1/vms/${vmId}/dr/drills`)).body.drills[0] as Json;
    assert.equal(drill.ok, true, JSON.stringify(drill));
    assert.match(text, /passed/);
    assert.match(text, /backup cloud \(CloudStack\)/);
    assert.match(text, /copy removed/);
    assert.match(text, new RegExp(`isolated copy from backup ${drill.backupId.slice(0, 8)} reached running`));
    assert.match(text, /\d+(\.\d)?\s*(sec|min)/, 'the measured RTO');
    assert.equal(await page.getByText('A drill is running').count(), 0, 'once its report is listed, the drill no longer shows as running');
    await litState('Protected', 10_000);
    await audit('vm-page-drill-report');
  });

  it('when the member fails over to CloudStack and back, then the machine is lit at each state and the failover event carries its RPO and RTO', async () => {
    await page.getByRole('button', { name: 'Fail over to CloudStack' }).click();
    await litState('FailedOver', 180_000);
    const failover = page.getByTestId('dr-events').locator('li').filter({ hasText: 'Failover completed' }).first();
    await failover.waitFor({ timeout: 30_000 });
    assert.match((await failover.textContent()) ?? '', /RPO \d.*RTO \d/, 'RPO and RTO of the failover');
    // The transition out of the lit state is drawn in the accent colour; the table lists it too.
    assert.ok((await page.locator('svg[data-testid="dr-machine"] g.transition.from-now').count()) >= 1);
    await page.locator('svg[data-testid="dr-machine"]').screenshot({ path: path.join(SCREENSHOT_DIR, 'vm-page-dr-machine-drawing.png') });
    await audit('vm-page-dr-failed-over');

    await page.getByRole('button', { name: 'Fail back now' }).click();
    await litState('Protected', 240_000);
    await page.getByTestId('dr-events').locator('li').filter({ hasText: 'Failback completed' }).first().waitFor({ timeout: 30_000 });
  });

  it('when the member holds the operator role, then the operation, the backup, the drill and the DR workflow link into the Temporal Web UI; in Korean the page reads in Korean', async () => {
    await grantRole(api.deps.db, member.username, OPERATOR_ROLE, member.userId);
    await page.reload();
    await page.getByRole('heading', { name: `VM ${vmName}` }).waitFor();
    const d = (await call('GET', `/api/v1/vms/${vmId}`)).body;
    const backupWf = (await call('GET', `/api/v1/vms/${vmId}/backups`)).body.backups[0].workflowId;
    const drillWf = (await call('GET', `/api/v1/vms/${vmId}/dr/drills`)).body.drills[0].workflowId;
    const ui = api.deps.config.temporalUiUrl;
    for (const [id, name] of [
      [d.operation.workflowId, 'Open this operation in Temporal Web UI'],
      [backupWf, 'Open this backup in Temporal Web UI'],
      [drillWf, 'Open this drill in Temporal Web UI'],
      [`vm-dr:${vmId}`, 'Open the DR workflow in Temporal Web UI'],
    ]) {
      const link = page.getByRole('link', { name }).first();
      await link.waitFor();
      const href = new URL((await link.getAttribute('href')) ?? '');
      assert.ok(href.href.startsWith(ui), href.href);
      // Every link of that name on the page goes to the UI; the first one lists this workflow's runs.
      assert.equal(href.searchParams.get('query'), `WorkflowId="${id}"`, `${name}: ${href.href}`);
    }
    await page.getByText('Operator view').waitFor();
    await audit('vm-page-operator');

    // The same page in Korean: every new part has its words in the Korean catalogue.
    await page.getByLabel('Language').selectOption('ko');
    await page.getByRole('heading', { name: '상태 전이도' }).waitFor();
    for (const heading of ['이 VM 변경', '작업 그래프', '게스트 상태 검사', '복구 훈련 보고서']) await page.getByRole('heading', { name: heading }).waitFor();
    assert.match((await page.locator('svg[data-testid="dr-machine"] g[data-current="true"]').textContent()) ?? '', /지금/);
    await audit('vm-page-ko');
  });
});
