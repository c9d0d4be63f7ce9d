/**
 * The console's environment pages in a real browser (headless Chromium through playwright-core)
 * against the whole stack (the DR suites' system: API serving web/dist, a worker, the cloud
 * simulators, the image store). A member signs in, edits members one by one on the New
 * environment form and sees the dependency graph redrawn with every member and `requires` (and a
 * cycle named before anything is sent), meets the API's field error at its field, creates a
 * Web-App-DB environment from the preset (its expanded graph drawn before it is sent), watches it
 * become active with each member's task done on the page's graph, sets a group backup policy and
 * takes a group backup by hand (one complete restore point), protects it and reads the recovery
 * plan's waves in dependency order, drills the whole environment and reads the report, reads the
 * list and the environment page in Korean (both at phone width too), and destroys it: with db's
 * snapshot refused once the final backup falls short (the page says nothing was deleted and offers
 * "Destroy again"); again, the final backup taken first (its `final` point listed complete on the destroyed environment's page, also in
 * Korean at phone width), every member's VM deleted; restores that point as a new environment from
 * the page (a bad name refused at its field; the new page names and links its source) and sees it
 * active, then destroys that one with "Skip the final backup" ticked (no final point), the list
 * empty again. A second environment, created with "keep" while the simulator fails one member's
 * build, reads partly created and is completed by "Create the failed members again"; a third, whose
 * failed member was deleted on its own, has the retry refused in words. axe-core runs
 * on every view (no serious or critical violation) and each is photographed into
 * data/screenshots/env-*.png.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureWebBuilt } from '../../scripts/web';
import type { TestApi } from '../harness/api';
import { checkAccessibility, launchBrowser, screenshot, type AxeViolation } from '../harness/browser';
import { simAdmin } from '../harness/clouds';
import { startDrSystem, type DrSystem } from '../harness/dr-system';
import { apiCall, waitUntil } from '../harness/http';
import { signupAndLogin, type TestUser } from '../harness/users';

type Json = any;

describe('web console: environments in a real browser (list, new environment with its graph, environment page, Korean)', function () {
  this.timeout(600_000);
  let sys: DrSystem;
  let api: TestApi;
  let browser: Browser;
  let member: TestUser;
  const contexts: BrowserContext[] = [];
  const envName = `envw${crypto.randomBytes(2).toString('hex')}`;
  let envId = '';
  const restoredName = `${envName}r`;
  let restoredId = '';
  const retryName = `${envName}k`;
  let retryId = '';
  const brokenName = `${envName}m`;
  let brokenId = '';
  const axeResults: Array<{ page: string; violations: AxeViolation[] }> = [];

  async function audit(page: Page, name: string): Promise<void> {
    const violations = await checkAccessibility(page);
    axeResults.push({ page: name, violations });
    await screenshot(page, `env-${name}`);
    assert.deepEqual(violations, [], `axe found serious or critical violations on ${name}:\n${JSON.stringify(violations, null, 2)}`);
  }

  /** A signed-in page of the member in a browser speaking `locale`. */
  async function signedIn(locale: string, home: string): Promise<Page> {
    const context = await browser.newContext({ locale, viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${api.url}/login`);
    await page.locator('input[name="username"]').fill(member.username);
    await page.locator('input[name="password"]').fill(member.password);
    await page.locator('button[type="submit"]').click();
    await page.getByRole('heading', { name: home, level: 1 }).waitFor();
    return page;
  }

  /** The drawing's boxes (by name) and arrows (`from>to`), sorted. */
  async function drawn(page: Page, testId: string): Promise<{ nodes: string[]; edges: string[] }> {
    const svg = page.locator(`svg[data-testid="${testId}"]`);
    const nodes = await svg.locator('g.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-task') ?? ''));
    const edges = await svg.locator('path.edge').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-from')}>${e.getAttribute('data-to')}`));
    return { nodes: nodes.sort(), edges: edges.sort() };
  }

  /** Waits until the drawing is `want` (it is redrawn on each edit), and says what it was otherwise. */
  async function expectDrawn(page: Page, testId: string, want: { nodes: string[]; edges: string[] }): Promise<void> {
    const sorted = { nodes: [...want.nodes].sort(), edges: [...want.edges].sort() };
    let last = await drawn(page, testId);
    for (let i = 0; i < 50 && JSON.stringify(last) !== JSON.stringify(sorted); i++) {
      await page.waitForTimeout(100);
      last = await drawn(page, testId);
    }
    assert.deepEqual(last, sorted);
  }

  before(async function () {
    this.timeout(300_000);
    await ensureWebBuilt();
    sys = await startDrSystem();
    api = sys.api;
    browser = await launchBrowser();
    member = await signupAndLogin(api.url);
  });

  after(async () => {
    for (const id of [envId, restoredId, retryId, brokenId]) if (id && member) await apiCall(api.url, member, 'DELETE', `/api/v1/environments/${id}?finalBackup=false`).catch(() => undefined);
    if (sys) await simAdmin(sys.clouds.openstack.url, 'DELETE', '/build-failures').catch(() => undefined);
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await sys?.stop();
    if (axeResults.length) console.log(`      axe-core: ${axeResults.length} page views checked, ${axeResults.reduce((n, r) => n + r.violations.length, 0)} serious or critical violations`);
  });

  it('when a member creates a Web-App-DB environment from the console, then the graph follows the edits, the page shows each member’s task done, a group backup is complete, the recovery plan goes db → app → web and its drill passes, Korean pages read, and the destroy leaves it destroyed with its members deleted', async () => {
    const page = await signedIn('en-US', 'My VMs');

    // The list, empty, says what an environment is and where to make one.
    await page.getByRole('navigation').getByRole('link', { name: 'Environments' }).click();
    await page.getByRole('heading', { name: 'You have no environments yet' }).waitFor();
    await audit(page, 'en-list-empty');
    await page.getByRole('link', { name: 'New environment' }).click();
    await page.getByRole('heading', { name: 'New environment', level: 1 }).waitFor();

    // Members one by one: each member and each `requires` ticked redraws the graph.
    await page.getByLabel('Members one by one').check();
    const memberBox = (n: number) => page.getByRole('group', { name: `Member ${n}`, exact: true });
    await memberBox(1).getByLabel('Member name').fill('db');
    await expectDrawn(page, 'member-graph', { nodes: ['db'], edges: [] });
    await page.getByRole('button', { name: 'Add a member' }).click();
    await memberBox(2).getByLabel('Member name').fill('app');
    await expectDrawn(page, 'member-graph', { nodes: ['app', 'db'], edges: [] });
    await memberBox(2).getByRole('checkbox', { name: 'db' }).check();
    await expectDrawn(page, 'member-graph', { nodes: ['app', 'db'], edges: ['db>app'] });
    await page.getByRole('button', { name: 'Add a member' }).click();
    await memberBox(3).getByLabel('Member name').fill('web');
    await memberBox(3).getByRole('checkbox', { name: 'app' }).check();
    await expectDrawn(page, 'member-graph', { nodes: ['app', 'db', 'web'], edges: ['app>web', 'db>app'] });
    assert.equal(await page.locator('svg[data-testid="member-graph"] g.node[data-state="planned"]').count(), 3, 'every member is drawn as to be created');

    // A cycle (db requires web) is named before anything is sent, at the member where it closes.
    await memberBox(1).getByRole('checkbox', { name: 'web' }).check();
    const cycle = page.getByTestId('cycle-notice');
    await cycle.waitFor();
    assert.match((await cycle.textContent()) ?? '', /db → web → app → db|web → app → db → web|app → db → web → app/);
    assert.equal(await page.locator('.member .field-error').filter({ hasText: '→' }).count(), 1, 'the cycle is shown at one member’s Requires');
    await page.getByLabel('Environment name').fill(envName);
    await page.getByRole('button', { name: 'Create environment' }).click();
    assert.equal(new URL(page.url()).pathname, '/environments/new', 'nothing sent while there is a cycle');
    await audit(page, 'en-new-cycle');
    await memberBox(1).getByRole('checkbox', { name: 'web' }).uncheck();
    await cycle.waitFor({ state: 'detached' });

    // A name the API refuses: its 400 is shown at the Environment name field.
    await page.getByLabel('Environment name').fill('9-starts-with-a-digit');
    await page.getByRole('button', { name: 'Create environment' }).click();
    await page.locator('input[name="name"][aria-invalid="true"]').waitFor();
    await page.getByText('Some fields need attention.').waitFor();
    assert.deepEqual(((await apiCall(api.url, member, 'GET', '/api/v1/environments')).body as Json).environments, [], 'nothing created');
    await audit(page, 'en-new-members');

    // The Web-App-DB preset: its expansion is drawn before it is sent.
    await page.getByLabel('A preset').check();
    await page.getByLabel(/^Web-App-DB/).check();
    await expectDrawn(page, 'member-graph', { nodes: ['app', 'db', 'web'], edges: ['app>web', 'db>app'] });
    await page.getByLabel(/^OverCloud/).check();
    await page.getByRole('textbox', { name: 'Cluster nodes' }).fill('2');
    await expectDrawn(page, 'member-graph', { nodes: ['devops', 'node-1', 'node-2'], edges: ['devops>node-1', 'devops>node-2'] });
    await page.getByLabel(/^Web-App-DB/).check();
    await page.getByLabel('Environment name').fill(envName);
    await audit(page, 'en-new-preset');
    await page.getByRole('button', { name: 'Create environment' }).click();

    // The environment page: the graph's tasks advance until every member's task is done.
    await page.getByRole('heading', { name: `Environment ${envName}`, level: 1 }).waitFor();
    envId = new URL(page.url()).pathname.split('/').pop()!;
    const graph = page.locator('svg[data-testid="environment-graph"]');
    const memberTasks = ['member:app', 'member:db', 'member:web'];
    const seen = new Set<string>();
    const deadline = Date.now() + 240_000;
    for (;;) {
      const state = ((await page.getByTestId('environment-state').textContent()) ?? '').trim();
      seen.add(state);
      if (state === 'Active') break;
      assert.ok(['Creating'].includes(state), `the environment went ${state}`);
      assert.ok(Date.now() < deadline, `not active in time; states seen: ${[...seen].join(', ')}`);
      await page.waitForTimeout(300);
    }
    assert.ok(seen.has('Creating'), 'the page showed it being created first');
    for (const task of [...memberTasks, 'network']) await graph.locator(`g.node[data-task="${task}"][data-state="succeeded"]`).waitFor();
    const g = await drawn(page, 'environment-graph');
    for (const edge of ['member:db>member:app', 'member:app>member:web', 'network>member:db']) assert.ok(g.edges.includes(edge), `the graph has ${edge}: ${g.edges.join(', ')}`);
    assert.match((await graph.locator('g.node[data-task="member:web"]').textContent()) ?? '', /✓ succeeded/);
    // The members, each running and linking to its VM page.
    const rows = page.getByTestId('environment-members').locator('tbody tr');
    assert.equal(await rows.count(), 3);
    for (const name of ['db', 'app', 'web']) {
      const row = page.locator(`[data-testid="environment-members"] tr[data-member="${name}"]`);
      assert.match((await row.textContent()) ?? '', /Running/);
      assert.match((await row.getByRole('link', { name }).getAttribute('href')) ?? '', /^\/vms\/[\w-]+$/);
    }
    await audit(page, 'en-active');

    // A group backup policy: saved, and the page says what it is.
    const backups = page.locator('section[aria-labelledby="group-backups-title"]');
    await backups.getByText('No group backup policy yet.').waitFor();
    await backups.getByLabel('Backups kept per member').fill('2');
    await backups.getByLabel('Start window (seconds)').fill('120');
    await backups.getByRole('button', { name: 'Save group policy' }).click();
    await backups.getByTestId('group-policy').filter({ hasText: 'Every day, each member keeps its newest 2; a member must start within 120 seconds.' }).waitFor();
    // A group backup by hand: one restore point, complete, no member short.
    await backups.getByRole('button', { name: 'Back up all members now' }).click();
    await backups.getByText('Group backup started.').waitFor();
    const point = backups.getByTestId('group-points').locator('tbody tr');
    await point.filter({ hasText: 'complete' }).waitFor({ timeout: 180_000 });
    assert.equal(await point.count(), 1);
    assert.match((await point.textContent()) ?? '', /by hand.*complete.*none.*Restore as a new environment$/);

    // Protected as a whole: the plan's waves in dependency order.
    const dr = page.locator('section[aria-labelledby="env-dr-title"]');
    await dr.getByTestId('plan-state').filter({ hasText: 'Not protected' }).waitFor();
    await dr.getByRole('button', { name: 'Protect the environment' }).click();
    await dr.getByRole('button', { name: 'Stop protection' }).waitFor();
    const waves = await dr.locator('[data-testid="dr-waves"] li').evaluateAll((els) => els.map((li) => [...li.querySelectorAll('[data-member]')].map((m) => m.getAttribute('data-member'))));
    assert.deepEqual(waves, [['db'], ['app'], ['web']]);
    assert.match((await dr.getByTestId('dr-waves').textContent()) ?? '', /Wave 1: db \(DR state: .+\).*Wave 2: app.*Wave 3: web/);
    await audit(page, 'en-protected');

    // A drill of the whole environment once every member is protected: the latest drill's report
    // lists each member in its wave, succeeded, and says everything it made was removed.
    await dr.getByTestId('plan-state').filter({ hasText: /^Protected$/ }).waitFor({ timeout: 180_000 });
    // A string, evaluated in the page: the root tsconfig has no DOM types.
    await page.waitForFunction(`[...document.querySelectorAll('[data-testid="dr-waves"] [data-member]')].every((m) => /DR state: Protected\\)/.test(m.textContent))`, undefined, { timeout: 180_000 });
    await dr.getByRole('button', { name: 'Drill the whole environment' }).click();
    await dr.getByTestId('drill-outcome').filter({ hasText: 'Passed; everything it made was removed.' }).waitFor({ timeout: 240_000 });
    const drillRows = await dr.getByRole('region', { name: /^Drill started / }).locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].slice(0, 3).map((c) => (c.textContent ?? '').trim())));
    assert.deepEqual(drillRows, [
      ['db', '1', '✓ succeeded'],
      ['app', '2', '✓ succeeded'],
      ['web', '3', '✓ succeeded'],
    ]);
    await audit(page, 'en-drilled');

    // In Korean: the list (at phone width too) and the environment page.
    const ko = await signedIn('ko-KR', '내 VM');
    await ko.getByRole('navigation').getByRole('link', { name: '환경' }).click();
    await ko.getByRole('heading', { name: '환경', level: 1 }).waitFor();
    const listRow = ko.getByTestId('environment-list').locator('tbody tr');
    assert.match((await listRow.textContent()) ?? '', new RegExp(`${envName}.*OpenStack.*Web-App-DB.*활성.*3`));
    await audit(ko, 'ko-list');
    await ko.setViewportSize({ width: 390, height: 844 });
    await ko.getByRole('link', { name: envName }).waitFor();
    await audit(ko, 'ko-list-phone');
    await ko.setViewportSize({ width: 1280, height: 900 });
    await ko.getByRole('link', { name: envName }).click();
    await ko.getByRole('heading', { name: `환경 ${envName}`, level: 1 }).waitFor();
    await ko.getByTestId('environment-state').filter({ hasText: '활성' }).waitFor();
    await ko.getByRole('heading', { name: '복구 계획' }).waitFor();
    await ko.getByText('웨이브 1').waitFor();
    await audit(ko, 'ko-environment');
    // At phone width the page stacks: the drawing is scaled down to the screen, no sideways scroll.
    await ko.setViewportSize({ width: 390, height: 844 });
    const graphBox = await ko.locator('svg[data-testid="environment-graph"]').boundingBox();
    assert.ok(graphBox && graphBox.x + graphBox.width <= 390, `the graph fits the phone's width: ${JSON.stringify(graphBox)}`);
    assert.equal(await ko.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, 'no sideways scroll');
    await audit(ko, 'ko-environment-phone');

    // Destroy: the confirmation says members with a backup policy are backed up once more first
    // (this one has the group's), the skip box unticked; the name typed to confirm.
    const destroySection = page.locator('section[aria-labelledby="destroy-title"]');
    await destroySection.getByText(/backed up once more, and those copies are kept in the image store/).waitFor();
    const skipFinal = destroySection.getByLabel('Skip the final backup (the data goes with the members)');
    assert.equal(await skipFinal.isChecked(), false, 'the final backup is taken unless the member says otherwise');
    const destroy = page.getByRole('button', { name: 'Destroy environment' });
    await page.getByLabel('Type the environment’s name to confirm').fill(`${envName}-not`);
    assert.ok(await destroy.isDisabled(), 'a name that does not match keeps Destroy disabled');
    await page.getByLabel('Type the environment’s name to confirm').fill(envName);
    // The database's snapshot refused once: the final backup falls short, nothing is deleted (the
    // environment is active again), and the page says so and offers the destroy again.
    const current = (await apiCall(api.url, member, 'GET', `/api/v1/environments/${envId}`)).body as Json;
    const dbServer = (current.members as Json[]).find((m) => m.name === 'db').placement.serverId as string;
    await simAdmin(sys.clouds.openstack.url, 'POST', '/faults', { service: 'compute', method: 'POST', path: `/servers/${dbServer}/action$`, status: 400, count: 1 });
    await destroy.click();
    // Stopped before anything was deleted: the environment runs on as it was.
    await page.getByTestId('environment-state').filter({ hasText: /^Active$/ }).waitFor({ timeout: 240_000 });
    await page.getByTestId('final-backup-short').filter({ hasText: 'the final backup fell short, so nothing was deleted' }).waitFor();
    await graph.locator('g.node[data-task="final-backup"][data-state="failed"]').waitFor();
    for (const name of ['db', 'app', 'web']) assert.match((await page.locator(`[data-testid="environment-members"] tr[data-member="${name}"]`).textContent()) ?? '', /Running/, `${name} is still there`);
    const finalPoint = backups.getByTestId('group-points').locator('tbody tr[data-trigger="final"]');
    await finalPoint.filter({ hasText: /db \(failed\)/ }).waitFor({ timeout: 60_000 });
    await audit(page, 'en-destroy-stopped');
    await page.getByRole('button', { name: 'Destroy again' }).click();
    await page.getByTestId('environment-state').filter({ hasText: /^Destroyed$/ }).waitFor({ timeout: 240_000 });
    for (const name of ['db', 'app', 'web']) assert.match((await page.locator(`[data-testid="environment-members"] tr[data-member="${name}"]`).textContent()) ?? '', /Deleted/);
    assert.equal(await graph.getAttribute('aria-labelledby') !== null, true);
    assert.match((await graph.locator('title').textContent()) ?? '', /destroy graph/);
    await graph.locator('g.node[data-task="final-backup"][data-state="succeeded"]').waitFor();
    // The destroy's final point is listed, complete, beside the one by hand — on the destroyed
    // environment's page, also when it is opened afresh.
    const completeFinal = finalPoint.filter({ has: page.locator('.state-succeeded') });
    await completeFinal.waitFor({ timeout: 60_000 });
    assert.match((await completeFinal.textContent()) ?? '', /final, at destroy.*complete.*none/);
    await page.reload();
    await page.getByTestId('environment-state').filter({ hasText: /^Destroyed$/ }).waitFor();
    await backups.getByText(/The environment is destroyed; its final and earlier restore points stay listed/).waitFor();
    await completeFinal.waitFor();
    assert.equal(await backups.getByTestId('group-points').locator('tbody tr').count(), 3, 'the point by hand and the two final ones (short, then complete)');
    assert.equal(await page.locator('section[aria-labelledby="destroy-title"]').count(), 0, 'nothing left to destroy');
    await audit(page, 'en-destroyed');
    // In Korean at phone width: the destroyed page with its points and their restore action.
    await ko.reload();
    await ko.getByTestId('environment-state').filter({ hasText: /^제거됨$/ }).waitFor();
    await ko.locator('[data-testid="group-points"] tr[data-trigger="final"]').filter({ hasText: '최종(제거 시)' }).first().getByRole('button', { name: '새 환경으로 복원' }).waitFor();
    assert.equal(await ko.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, 'no sideways scroll');
    await audit(ko, 'ko-destroyed-phone');
    const vms = ((await apiCall(api.url, member, 'GET', '/api/v1/vms')).body as Json).vms as Json[];
    assert.ok(vms.every((v) => v.state === 'deleted'), `every member's VM is deleted: ${JSON.stringify(vms.map((v) => [v.name, v.state]))}`);

    // Restored from the final point as a new environment: a name asked, then its page, where the
    // members come up from their backups and the source is named and linked.
    await completeFinal.getByRole('button', { name: /^Restore as a new environment: the point of .+$/ }).click();
    const restoreForm = page.getByTestId('restore-form');
    assert.equal(await page.evaluate('document.activeElement && document.activeElement.getAttribute("name")'), 'restoreName', 'the name field takes the focus');
    await restoreForm.getByLabel('New environment’s name').fill('9-not-a-name');
    await restoreForm.getByRole('button', { name: 'Restore', exact: true }).click();
    await restoreForm.locator('input[name="restoreName"][aria-invalid="true"]').waitFor();
    await restoreForm.getByLabel('New environment’s name').fill(restoredName);
    await audit(page, 'en-restore-form');
    await restoreForm.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByRole('heading', { name: `Environment ${restoredName}`, level: 1 }).waitFor();
    restoredId = new URL(page.url()).pathname.split('/').pop()!;
    assert.notEqual(restoredId, envId);
    const source = page.getByTestId('restored-from').getByRole('link');
    await source.filter({ hasText: `environment ${envName}, group restore point of ` }).waitFor();
    assert.equal(await source.getAttribute('href'), `/environments/${envId}`);
    await page.getByTestId('environment-state').filter({ hasText: /^Active$/ }).waitFor({ timeout: 240_000 });
    for (const name of ['db', 'app', 'web']) assert.match((await page.locator(`[data-testid="environment-members"] tr[data-member="${name}"]`).textContent()) ?? '', /Running/);
    await audit(page, 'en-restored');

    // Destroyed with the final backup skipped, though it has a group policy: no final point.
    await backups.getByLabel('Backups kept per member').fill('1');
    await backups.getByRole('button', { name: 'Save group policy' }).click();
    await backups.getByTestId('group-policy').filter({ hasText: 'each member keeps its newest 1' }).waitFor();
    await page.getByLabel('Skip the final backup (the data goes with the members)').check();
    await page.getByLabel('Type the environment’s name to confirm').fill(restoredName);
    await page.getByRole('button', { name: 'Destroy environment' }).click();
    await page.getByTestId('environment-state').filter({ hasText: /^Destroyed$/ }).waitFor({ timeout: 240_000 });
    assert.equal(await graph.locator('g.node[data-task="final-backup"]').count(), 0, 'the destroy graph has no final backup');
    await backups.getByText('No group restore points yet.').waitFor();
    await page.getByRole('navigation').getByRole('link', { name: 'Environments' }).click();
    await page.getByRole('heading', { name: 'You have no environments yet' }).waitFor();
  });

  it('when a member of an environment created with “keep” fails, then the page shows it partly created, and “Create the failed members again” runs the create graph again until it is active; a retry refused because a member was deleted on its own says so in words', async () => {
    await simAdmin(sys.clouds.openstack.url, 'POST', '/build-failures', { count: 1, namePattern: `^${retryName}-app$` });
    const page = await signedIn('en-US', 'My VMs');
    await page.getByRole('navigation').getByRole('link', { name: 'Environments' }).click();
    await page.getByRole('link', { name: 'New environment' }).click();
    await page.getByRole('heading', { name: 'New environment', level: 1 }).waitFor();
    await page.getByLabel('A preset').check();
    await page.getByLabel(/^Web-App-DB/).check();
    await page.getByLabel(/^Keep: keep the members that were made/).check();
    await page.getByLabel('Environment name').fill(retryName);
    await page.getByRole('button', { name: 'Create environment' }).click();
    await page.getByRole('heading', { name: `Environment ${retryName}`, level: 1 }).waitFor();
    retryId = new URL(page.url()).pathname.split('/').pop()!;

    // Partly created: app failed (web, which requires it, never started), db runs.
    await page.getByTestId('environment-state').filter({ hasText: /^Partly created$/ }).waitFor({ timeout: 240_000 });
    assert.match((await page.getByTestId('failed-members').textContent()) ?? '', /\bapp\b/);
    const graph = page.locator('svg[data-testid="environment-graph"]');
    await graph.locator('g.node[data-task="member:app"][data-state="failed"]').waitFor();
    assert.match((await page.locator('[data-testid="environment-members"] tr[data-member="db"]').textContent()) ?? '', /Running/);
    const retrySection = page.locator('section[aria-labelledby="retry-title"]');
    await retrySection.getByText(/Create the failed members again on the same network/).waitFor();
    await audit(page, 'en-partial');
    await page.setViewportSize({ width: 390, height: 844 });
    await retrySection.getByRole('button', { name: 'Create the failed members again' }).waitFor();
    assert.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, 'no sideways scroll at phone width');
    await audit(page, 'en-partial-phone');
    await page.setViewportSize({ width: 1280, height: 900 });

    // The retry: the create graph runs again, app and web made, the environment active.
    await retrySection.getByRole('button', { name: 'Create the failed members again' }).click();
    await page.getByTestId('environment-state').filter({ hasText: /^Active$/ }).waitFor({ timeout: 240_000 });
    for (const task of ['member:db', 'member:app', 'member:web']) await graph.locator(`g.node[data-task="${task}"][data-state="succeeded"]`).waitFor();
    for (const name of ['db', 'app', 'web']) assert.match((await page.locator(`[data-testid="environment-members"] tr[data-member="${name}"]`).textContent()) ?? '', /Running/);
    assert.equal(await page.getByTestId('failed-members').count(), 0, 'no member failed now');
    assert.equal(await retrySection.count(), 0, 'nothing left to retry');
    const env = (await apiCall(api.url, member, 'GET', `/api/v1/environments/${retryId}`)).body as Json;
    assert.ok((env.workflowIds as string[]).some((w) => /:retry-1$/.test(w)), `the retry ran: ${JSON.stringify(env.workflowIds)}`);
    await audit(page, 'en-retried');

    // A partial environment whose failed member was deleted on its own: the retry's refusal in words.
    await simAdmin(sys.clouds.openstack.url, 'POST', '/build-failures', { count: 1, namePattern: `^${brokenName}-app$` });
    const created = await apiCall(api.url, member, 'POST', '/api/v1/environments', { name: brokenName, cloud: 'openstack', preset: 'web-app-db', onMemberFailure: 'keep' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    brokenId = (created.body as Json).environment.id as string;
    const partial = await waitUntil(
      'partial',
      async () => {
        const e = (await apiCall(api.url, member, 'GET', `/api/v1/environments/${brokenId}`)).body as Json;
        return e.state === 'creating' ? undefined : e;
      },
      240_000,
    );
    assert.equal(partial.state, 'partial', JSON.stringify(partial));
    const appVm = (partial.members as Json[]).find((m) => m.name === 'app').vmId as string;
    assert.equal((await apiCall(api.url, member, 'DELETE', `/api/v1/vms/${appVm}`)).status, 202);
    await waitUntil('app deleted', async () => (((await apiCall(api.url, member, 'GET', `/api/v1/vms/${appVm}`)).body as Json).vm.state === 'deleted' ? true : undefined), 120_000);
    await page.goto(`${api.url}/environments/${brokenId}`);
    await page.getByTestId('environment-state').filter({ hasText: /^Partly created$/ }).waitFor();
    assert.match((await page.locator('[data-testid="environment-members"] tr[data-member="app"]').textContent()) ?? '', /Deleted/);
    await page.getByRole('button', { name: 'Create the failed members again' }).click();
    await page.getByRole('alert').filter({ hasText: 'A member was deleted on its own, so the environment cannot be completed: destroy it and create it again.' }).waitFor();
    await page.getByTestId('environment-state').filter({ hasText: /^Partly created$/ }).waitFor();
    await audit(page, 'en-retry-refused');
  });
});
