/**
 * The web console in a real browser (headless Chromium through playwright-core) against the whole
 * stack: the API serving web/dist (built here when stale), a worker, the cloud simulators and the
 * image store. Everything is done through the page, as a person would — elements found by role
 * and label: a member signs up, meets a field error from the API at its field, is refused by a
 * full OpenStack project at the Cloud field (nothing created), creates a VM with DR on from the
 * form and watches it reach Running and Protected without a reload, takes a backup, runs a
 * drill, fails over to CloudStack and back by hand (the live notice and the Alerts page show it),
 * restores the VM from its backup, deletes it by typing its name and withdraws; a second member, whose browser speaks Korean, gets Korean pages,
 * is refused the first member's ID, and sees none of the first member's VMs. axe-core runs on
 * every page visited (no serious or critical violation), and each page is photographed into
 * data/screenshots/. The tests share one member and VM and run in order.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CONSOLE_CSP } from '../../api/web-console';
import { ensureWebBuilt } from '../../scripts/web';
import type { TestApi } from '../harness/api';
import { checkAccessibility, launchBrowser, screenshot, type AxeViolation } from '../harness/browser';
import { simAdmin } from '../harness/clouds';
import { startDrSystem, type DrSystem } from '../harness/dr-system';
import { testPassword, uniqueUsername } from '../harness/users';

type Json = any;

describe('web console in a real browser (Chromium)', function () {
  this.timeout(600_000);
  let sys: DrSystem;
  let api: TestApi;
  let browser: Browser;
  /** Every page the tests ran axe on, with what it found. */
  const axeResults: Array<{ page: string; violations: AxeViolation[] }> = [];

  // The first member and their VM, shared by the tests in order.
  const alice = { username: uniqueUsername('web-en'), password: testPassword() };
  const vmName = `web${crypto.randomBytes(3).toString('hex')}`;
  let aliceContext: BrowserContext;
  let alicePage: Page;
  let vmUrl = '';

  /** axe on the page as it is now; a serious or critical violation fails the test, naming it. */
  async function audit(page: Page, name: string): Promise<void> {
    const violations = await checkAccessibility(page);
    axeResults.push({ page: name, violations });
    await screenshot(page, name);
    assert.deepEqual(violations, [], `axe found serious or critical violations on ${name}:\n${JSON.stringify(violations, null, 2)}`);
  }

  async function newMemberPage(locale: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ locale, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    return { context, page };
  }

  before(async function () {
    this.timeout(300_000);
    // A clean clone has no web/dist: build it here (skipped when current).
    await ensureWebBuilt();
    // The DR suites' system: API, worker, simulators, image store, a one-second monitor.
    sys = await startDrSystem();
    api = sys.api;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await sys?.stop();
    if (axeResults.length) console.log(`      axe-core: ${axeResults.length} page views checked, ${axeResults.reduce((n, r) => n + r.violations.length, 0)} serious or critical violations`);
  });

  it('when a member signs up in English and creates a VM with DR on from the form, then a full OpenStack project refuses it at the Cloud field with nothing created, and once there is room the VM page shows its steps advancing to Running and Protected without a reload, and a backup taken by hand succeeds', async () => {
    ({ context: aliceContext, page: alicePage } = await newMemberPage('en-US'));
    const page = alicePage;

    // The console is served with its CSP; a visitor without a session lands on the log-in page.
    const first = await page.goto(`${api.url}/`);
    assert.equal(first?.headers()['content-security-policy'], CONSOLE_CSP);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await audit(page, 'en-login');

    await page.getByRole('link', { name: 'Sign up' }).first().click();
    await page.getByRole('heading', { name: 'Sign up' }).waitFor();
    await audit(page, 'en-signup');
    await page.getByLabel('ID').fill(alice.username);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Create my account' }).click();

    // Signed up and logged in: My VMs, empty, says what to do first.
    await page.getByRole('heading', { name: 'You have no VMs yet' }).waitFor();
    assert.ok(await page.getByText(`Signed in as ${alice.username}`).isVisible());
    await audit(page, 'en-my-vms-empty');

    await page.getByRole('link', { name: 'Create my first VM' }).click();
    await page.getByRole('heading', { name: 'New VM' }).waitFor();
    // The form comes from the catalog: synaptic is not offered on a RHEL-family OS.
    await page.getByLabel('Operating system').selectOption('centos-stream-9');
    assert.ok(await page.getByLabel(/Synaptic.*not offered/i).isDisabled(), 'synaptic is disabled for CentOS');
    await page.getByLabel('Operating system').selectOption('ubuntu-24.04');
    await page.getByLabel('Vim').check();

    // A name the API refuses: its 400 names the field, and the page shows it at that field.
    await page.getByLabel('Name', { exact: true }).fill('9-starts-with-a-digit');
    await page.getByRole('button', { name: 'Create VM' }).click();
    const nameInput = page.getByLabel('Name', { exact: true });
    await page.locator('input[name="name"][aria-invalid="true"]').waitFor();
    const describedBy = (await nameInput.getAttribute('aria-describedby')) ?? '';
    const errorText = await page.locator(`[id="${describedBy.split(' ').find((id) => id.endsWith('-error'))}"]`).textContent();
    assert.ok(errorText && errorText.length > 0, 'the API’s message for `name` is shown at the Name field');
    await page.getByText('Some fields need attention.').waitFor();

    // The chosen cloud's remaining quota is shown beside the form (Nova limits of the project).
    const quota = page.locator('section[aria-labelledby="quota-title"]');
    await quota.getByRole('heading', { name: 'Room left in the cloud: OpenStack' }).waitFor();
    await quota.getByText(/^\d+ of \d+ in use$/).first().waitFor();
    assert.match((await quota.textContent()) ?? '', /Instances\s*\d+ of \d+ in use/, 'the project’s instances, used and allowed');

    // A guest health check whose port is not a port: the API's 400 is shown at the Port field.
    await nameInput.fill(vmName);
    await page.getByLabel('Check the service inside the VM').check();
    await page.getByLabel('Port', { exact: true }).fill('70000');
    await page.getByRole('button', { name: 'Create VM' }).click();
    await page.locator('input[name="port"][aria-invalid="true"]').waitFor();
    const portError = (await page.getByLabel('Port', { exact: true }).getAttribute('aria-describedby')) ?? '';
    assert.ok(((await page.locator(`[id="${portError.split(' ').find((id) => id.endsWith('-error'))}"]`).textContent()) ?? '').length > 0, 'the API’s message for healthCheck.port is at the Port field');
    await page.getByLabel('Check the service inside the VM').uncheck();

    // DR on from the form. With the OpenStack project filled to its instance limit, the create is
    // refused at the Cloud field with the cloud's numbers, and nothing is created.
    await page.getByLabel('Protect this VM (DR on)').check();
    const inBrowser = async (path: string): Promise<Json> => page.evaluate(`fetch(${JSON.stringify(path)}).then((r) => r.json())`);
    const openstackQuota = async () => ((await inBrowser('/api/v1/quotas')).clouds as Json[]).find((c) => c.cloud === 'openstack');
    const { used, max } = (await openstackQuota()).instances as { used: number; max: number };
    await simAdmin(sys.clouds.openstack.url, 'PATCH', '/quotas', { project: sys.clouds.openstack.credentials.projectName, instances: used });
    try {
      // GET /quotas reads the cloud anew: the API's kept reading (2 s) is the full one from here on.
      assert.equal((await openstackQuota()).instances.max, used);
      await page.getByRole('button', { name: 'Create VM' }).click();
      const cloudGroup = page.getByRole('group', { name: 'Cloud', exact: true });
      await cloudGroup.locator('.field-error').filter({ hasText: new RegExp(`OpenStack project allows ${used} instances, \\d+ in use; this VM needs 1`) }).waitFor();
      assert.ok(await page.getByText('Some fields need attention.').isVisible());
      // The room left beside the form is read again: none.
      await quota.locator('dd').filter({ hasText: new RegExp(`^\\d+ of ${used} in use$`) }).first().waitFor();
      assert.match((await quota.textContent()) ?? '', new RegExp(`Instances\\s*\\d+ of ${used} in use`));
      await audit(page, 'en-new-vm-quota-refused');
      assert.equal(new URL(page.url()).pathname, '/vms/new', 'still on the form');
      assert.deepEqual(((await inBrowser('/api/v1/vms')).vms as Json[]).map((v) => v.name), [], 'no VM record');
      const servers = ((await simAdmin(sys.clouds.openstack.url, 'GET', '/state')).servers.items as Json[]).filter((sv) => sv.name === vmName);
      assert.deepEqual(servers, [], 'no server in OpenStack');
    } finally {
      await simAdmin(sys.clouds.openstack.url, 'PATCH', '/quotas', { project: sys.clouds.openstack.credentials.projectName, instances: max });
    }

    // The live template preview: the Heat template with the chosen package.
    await page.locator('.preview pre').filter({ hasText: 'OS::Nova::Server' }).waitFor();
    assert.match((await page.locator('.preview pre').textContent()) ?? '', /\bvim\b/);
    await audit(page, 'en-new-vm');

    // The server takes 4 s to build, so the page is there before the VM runs (with the shared
    // simulator's fast timings a create could end before the page's first read).
    const osTimings = await simAdmin(sys.clouds.openstack.url, 'GET', '/timings');
    await simAdmin(sys.clouds.openstack.url, 'PATCH', '/timings', { serverBuildMs: 4_000 });
    const seenStates = new Set<string>();
    const seenSteps = new Set<string>();
    try {
      await page.getByRole('button', { name: 'Create VM' }).click();
      await page.getByRole('heading', { name: `VM ${vmName}` }).waitFor();
      vmUrl = page.url();
      assert.match(vmUrl, /\/vms\/[\w-]+$/);
      // A marker in the page's memory: still there at the end means the page never reloaded.
      await page.evaluate('window.__noReload = true');

      // Watch the state and the steps while they change.
      const deadline = Date.now() + 180_000;
      for (;;) {
        const state = ((await page.getByTestId('vm-state').textContent()) ?? '').trim();
        seenStates.add(state);
        const done = await page.locator('ol.steps li.done .step-name').allTextContents();
        for (const s of done) seenSteps.add(s);
        if (state === 'Running') break;
        assert.notEqual(state, 'Failed', 'the create failed');
        assert.ok(Date.now() < deadline, `the VM did not reach Running; states seen: ${[...seenStates].join(', ')}`);
        await page.waitForTimeout(300);
      }
    } finally {
      await simAdmin(sys.clouds.openstack.url, 'PATCH', '/timings', osTimings);
    }
    assert.ok(seenStates.has('Creating'), `the page showed the VM creating before running (saw ${[...seenStates].join(', ')})`);
    assert.equal(await page.evaluate('window.__noReload'), true, 'no reload');
    const steps = await page.locator('ol.steps li').count();
    assert.ok(steps >= 2, 'the operation has steps');
    await page.locator('ol.steps li.done').nth(steps - 1).waitFor();
    assert.ok(seenSteps.size >= 1);
    assert.match((await page.locator('.facts').first().textContent()) ?? '', /\d+\.\d+\.\d+\.\d+/, 'the address is shown');
    // Created with DR on: its DR panel says Protected once it runs.
    await page.getByTestId('dr-state').filter({ hasText: /^Protected$/ }).waitFor({ timeout: 120_000 });
    await audit(page, 'en-vm-running');

    // Back up now: the status says it started, and the backups table gets a succeeded row.
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.getByRole('status').filter({ hasText: 'Back up now: started.' }).waitFor();
    await page.locator('table[aria-labelledby="backups-title"] tbody tr').filter({ hasText: 'succeeded' }).first().waitFor({ timeout: 240_000 });
    const backupRow = (await page.locator('table[aria-labelledby="backups-title"] tbody tr').first().textContent()) ?? '';
    assert.match(backupRow, /by hand/);
    assert.match(backupRow, /await-image: succeeded \(after snapshot\)/, 'each task with the tasks it requires');
    await audit(page, 'en-vm-backed-up');

    // My VMs lists it: running, on OpenStack, with an address and a backup age.
    await page.getByRole('navigation').getByRole('link', { name: 'My VMs' }).click();
    const row = page.getByRole('row').filter({ hasText: vmName });
    await row.filter({ hasText: 'Running' }).waitFor();
    assert.match((await row.textContent()) ?? '', /OpenStack/);
    await row.filter({ hasText: /ago/ }).waitFor();
    // No backup policy: no next backup.
    assert.match((await row.textContent()) ?? '', /not scheduled/);
    await audit(page, 'en-my-vms');

    for (const [link, heading, name] of [
      ['Alerts', 'Alerts', 'en-alerts'],
      ['Cloud accounts', 'Cloud accounts', 'en-cloud-accounts'],
      ['My account', 'My account', 'en-my-account'],
    ] as const) {
      await page.getByRole('navigation').getByRole('link', { name: link, exact: false }).click();
      await page.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
      await audit(page, name);
    }
    // The operator's accounts are listed by name; no secret value is on the page.
    await page.getByRole('navigation').getByRole('link', { name: 'Cloud accounts' }).click();
    await page.getByRole('row').filter({ hasText: 'CloudStack' }).first().waitFor();
    const accountsText = (await page.locator('main').textContent()) ?? '';
    assert.ok(!accountsText.includes(api.deps.config.cloudstackSecretKey), 'the CloudStack secret key is never shown');
    assert.ok(!accountsText.includes(api.deps.config.openstackPassword), 'the OpenStack password is never shown');

    // Withdrawing while a VM exists is refused, saying why.
    await page.getByRole('navigation').getByRole('link', { name: 'My account' }).click();
    await page.getByLabel('Enter your password to confirm').fill(alice.password);
    await page.getByRole('button', { name: 'Withdraw my account' }).click();
    await page.getByRole('alert').filter({ hasText: 'You still have VMs' }).waitFor();
  });

  it('when the member’s VM (DR on from the form) is drilled, failed over to CloudStack by hand and failed back, then the VM page, the live notice and the Alerts page show each step', async () => {
    assert.ok(vmUrl, 'the first test made a VM');
    const page = alicePage;
    await page.goto(vmUrl);
    await page.getByRole('heading', { name: `VM ${vmName}` }).waitFor();
    const drState = page.getByTestId('dr-state');
    const cloud = page.locator('.facts').first();

    // Protected since its creation (the form had DR on): nothing to turn on.
    await drState.filter({ hasText: /^Protected$/ }).waitFor({ timeout: 120_000 });
    assert.equal(await page.getByRole('button', { name: 'Protect (turn DR on)' }).count(), 0);

    await page.getByRole('button', { name: 'Run a drill' }).click();
    await page.getByRole('status').filter({ hasText: 'Run a drill: started.' }).waitFor();
    await page.locator('.timeline li').filter({ hasText: 'Drill completed' }).first().waitFor({ timeout: 180_000 });
    await audit(page, 'en-vm-protected-drilled');

    await page.getByRole('button', { name: 'Fail over to CloudStack' }).click();
    await drState.filter({ hasText: /^Failed over$/ }).waitFor({ timeout: 180_000 });
    await cloud.filter({ hasText: 'CloudStack (backup cloud)' }).waitFor({ timeout: 60_000 });
    // The live notice, on whatever page the member is: a failover happened to one of their VMs.
    await page.getByRole('alert').filter({ hasText: `Alert for ${vmName}` }).waitFor({ timeout: 60_000 });
    await audit(page, 'en-vm-failed-over');

    await page.getByRole('button', { name: 'Fail back now' }).click();
    await drState.filter({ hasText: /^Protected$/ }).waitFor({ timeout: 240_000 });
    await cloud.filter({ hasText: 'OpenStack (base cloud)' }).waitFor({ timeout: 60_000 });

    // The Alerts page lists what happened, with an unread count in the navigation before the visit.
    await page.getByRole('navigation').getByRole('link', { name: /Alerts \(\d+ unread\)/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('navigation').getByRole('link', { name: /Alerts/ }).click();
    await page.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor();
    for (const what of ['Drill completed', 'Failover completed', 'Failback completed']) await page.getByRole('row').filter({ hasText: what }).first().waitFor({ timeout: 30_000 });
    await audit(page, 'en-alerts-after-failback');

    // DR off again before the VM is deleted (the last test).
    await page.goto(vmUrl);
    await page.getByRole('button', { name: 'Turn DR off' }).click();
    await drState.filter({ hasText: 'Not protected' }).waitFor({ timeout: 60_000 });
  });

  it('when a second member signs up with a Korean browser, then the pages are in Korean, the first member’s ID is refused, and none of the first member’s VMs is visible', async () => {
    assert.ok(vmUrl, 'the first test made a VM');
    const { context, page } = await newMemberPage('ko-KR');
    try {
      await page.goto(`${api.url}/signup`);
      await page.getByRole('heading', { name: '회원 가입' }).waitFor();
      assert.equal(await page.evaluate('document.documentElement.lang'), 'ko');
      await audit(page, 'ko-signup');

      // The first member's ID exists: refused at the ID field.
      await page.getByLabel('아이디').fill(alice.username);
      await page.getByLabel('비밀번호').fill(testPassword());
      await page.getByRole('button', { name: '계정 만들기' }).click();
      await page.getByText('이미 있는 아이디입니다. 다른 아이디를 고르세요.').waitFor();

      const bob = { username: uniqueUsername('web-ko'), password: testPassword() };
      await page.getByLabel('아이디').fill(bob.username);
      await page.getByLabel('비밀번호').fill(bob.password);
      await page.getByRole('button', { name: '계정 만들기' }).click();
      await page.getByRole('heading', { name: '아직 VM이 없습니다' }).waitFor();
      assert.ok(await page.getByRole('link', { name: '첫 VM 만들기' }).isVisible());
      assert.equal(await page.getByText(vmName).count(), 0, 'the first member’s VM is not listed');
      await audit(page, 'ko-my-vms-empty');
      // At phone width the page fits: nothing wider than the screen, the navigation still there.
      await page.setViewportSize({ width: 390, height: 844 });
      assert.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, 'no horizontal scrolling at 390 px');
      assert.ok(await page.getByRole('navigation').getByRole('link', { name: '새 VM' }).isVisible());
      await audit(page, 'ko-my-vms-phone');
      await page.setViewportSize({ width: 1280, height: 900 });

      // The first member's VM page by its address: not found, nothing of it shown.
      await page.goto(vmUrl);
      await page.getByRole('alert').filter({ hasText: '이 주소에는 페이지가 없습니다.' }).waitFor();
      assert.equal(await page.getByText(vmName).count(), 0);
      await audit(page, 'ko-other-members-vm');

      await page.getByRole('navigation').getByRole('link', { name: '새 VM' }).click();
      await page.getByRole('heading', { name: '새 VM' }).waitFor();
      await page.getByLabel('운영 체제').waitFor();
      await audit(page, 'ko-new-vm');
      await page.getByRole('navigation').getByRole('link', { name: '알림' }).click();
      await page.getByText('아직 VM에 일어난 일이 없습니다.').waitFor();
      await audit(page, 'ko-alerts');

      // The language can be switched, and the choice holds after a reload.
      await page.getByLabel('언어').selectOption('en');
      await page.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor();
      await page.reload();
      await page.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor();
      assert.equal(await page.evaluate('document.documentElement.lang'), 'en');

      // Log out: back to the log-in page, and the member pages need a session again.
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByText('You are logged out.').waitFor();
      await page.goto(`${api.url}/`);
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      // Wrong password: refused where the member looks.
      await page.getByLabel('ID').fill(bob.username);
      await page.getByLabel('Password').fill('not-the-password-at-all');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Wrong ID or password.' }).waitFor();
    } finally {
      await context.close();
    }
  });

  it('when the first member restores the VM from its backup, deletes it by typing its name and withdraws, then the history shows the restore, the VM ends Deleted and the account is gone', async () => {
    assert.ok(vmUrl, 'the first test made a VM');
    const page = alicePage;
    await page.goto(vmUrl);
    await page.getByRole('heading', { name: `VM ${vmName}` }).waitFor();

    // Restore from the backup taken by hand: asked, confirmed, and the history says so.
    await page.getByRole('button', { name: 'Restore from this backup' }).first().click();
    await page.getByRole('button', { name: 'Restore now' }).click();
    await page.getByText('The restore has started.').waitFor();
    await page.locator('ol.timeline li').filter({ hasText: 'restored from backup' }).waitFor({ timeout: 180_000 });
    await page.getByTestId('vm-state').filter({ hasText: 'Running' }).waitFor({ timeout: 60_000 });

    const del = page.getByRole('button', { name: 'Delete VM' });
    await page.getByLabel('Name of the VM').fill(`${vmName}-not`);
    assert.ok(await del.isDisabled(), 'a name that does not match keeps Delete disabled');
    await page.getByLabel('Name of the VM').fill(vmName);
    await del.click();
    await page.getByTestId('vm-state').filter({ hasText: 'Deleted' }).waitFor({ timeout: 180_000 });
    await audit(page, 'en-vm-deleted');

    await page.getByRole('navigation').getByRole('link', { name: 'My VMs' }).click();
    await page.getByRole('heading', { name: 'You have no VMs yet' }).waitFor();

    await page.getByRole('navigation').getByRole('link', { name: 'My account' }).click();
    await page.getByLabel('Enter your password to confirm').fill(alice.password);
    await page.getByRole('button', { name: 'Withdraw my account' }).click();
    await page.getByText('Your account was removed. Goodbye.').waitFor();
    await audit(page, 'en-withdrawn');

    // The member is gone: logging in again is refused.
    await page.getByLabel('ID').fill(alice.username);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong ID or password.' }).waitFor();
    await aliceContext.close();
  });
});
