/**
 * My VMs with 500 VMs in a real browser (headless Chromium through playwright-core): the page
 * renders only the rows in view, and stays a table a person can use. No system behind it: the API
 * app without connections serves web/dist and the browser answers the console's /api/v1 requests
 * with 500 made-up VMs (test/harness/offline-console.ts, as bench/console.ts does). The table
 * tells its size (aria-rowcount), each rendered row its place (aria-rowindex); the page scrolls as
 * if every row were there; the keyboard walks the rows past the first rendered ones, and a
 * focused row stays when scrolled away; at phone width the page does not scroll sideways; axe-core
 * finds no serious or critical violation (screenshots `vms-list-*` in data/screenshots/).
 */
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureWebBuilt } from '../../scripts/web';
import { checkAccessibility, launchBrowser, screenshot } from '../harness/browser';
import { answerAsApi, fakeVm, startOfflineConsole, type OfflineConsole } from '../harness/offline-console';

const VMS = 500;

describe('web console: My VMs with 500 VMs renders the rows in view (virtual list, in Chromium)', function () {
  this.timeout(180_000);
  let server: OfflineConsole;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  /** The rendered data rows, in DOM order: their aria-rowindex and the VM name in their header cell. */
  const rendered = async (): Promise<Array<{ index: number; name: string }>> =>
    (await page.evaluate(`[...document.querySelectorAll('main tbody tr[aria-rowindex]')].map((tr) => ({ index: Number(tr.getAttribute('aria-rowindex')), name: tr.querySelector('th').textContent }))`)) as Array<{ index: number; name: string }>;
  /** The link with the focus, by its text (empty when the focus is elsewhere). */
  const focusedLink = async (): Promise<string> => (await page.evaluate(`document.activeElement && document.activeElement.tagName === 'A' ? document.activeElement.textContent : ''`)) as string;

  async function audit(name: string): Promise<void> {
    const violations = await checkAccessibility(page);
    await screenshot(page, name);
    assert.deepEqual(violations, [], `axe found serious or critical violations on ${name}:\n${JSON.stringify(violations, null, 2)}`);
  }

  before(async function () {
    this.timeout(300_000);
    await ensureWebBuilt();
    server = await startOfflineConsole();
    browser = await launchBrowser();
    context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    await answerAsApi(context, Array.from({ length: VMS }, (_, i) => fakeVm(i)));
    page = await context.newPage();
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('when My VMs opens with 500 VMs, then the table says it has 501 rows, renders a few dozen in order from row 2, and is as tall as all of them', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'My VMs', level: 1 }).waitFor();
    const table = page.locator('main table');
    await page.getByRole('row').filter({ hasText: 'vm0' }).first().waitFor();
    assert.equal(await table.getAttribute('aria-rowcount'), String(VMS + 1), 'the header row and one per VM');
    assert.equal(await table.locator('thead tr').getAttribute('aria-rowindex'), '1');
    assert.equal(await page.getByRole('columnheader').count(), 7);

    const rows = await rendered();
    assert.ok(rows.length >= 10 && rows.length < 100, `only the rows in view and a few around them are rendered (${rows.length})`);
    assert.deepEqual(
      rows.map((r) => r.index),
      rows.map((_, i) => i + 2),
      'consecutive rows from the first VM (row 2: the header is row 1)',
    );
    assert.deepEqual(
      rows.map((r) => r.name),
      rows.map((_, i) => `vm${i}`),
    );
    // The rows in view show their DR state and backups (they come with the list).
    const first = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'vm0', exact: true }) });
    assert.match((await first.textContent()) ?? '', /Creating.*OpenStack.*10\.0\.0\.2.*Protected.*ago.*about/);
    // The page is as tall as all 500 rows would be (the rows left out are stood in for).
    const height = (await page.evaluate('document.documentElement.scrollHeight')) as number;
    assert.ok(height > VMS * 30, `the page is ${height} px tall`);
    await audit('vms-list-500');
  });

  it('when the member scrolls to the end, then the last VMs are rendered as rows 480–501 and the first ones are gone', async () => {
    await page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)');
    await page.getByRole('rowheader', { name: `vm${VMS - 1}`, exact: true }).waitFor();
    const rows = await rendered();
    assert.equal(rows[rows.length - 1].index, VMS + 1, 'the last VM is row 501');
    assert.equal(rows[rows.length - 1].name, `vm${VMS - 1}`);
    assert.ok(rows.length < 100, `still only the rows in view (${rows.length})`);
    assert.ok(!rows.some((r) => r.name === 'vm0'), 'the first VM is no longer rendered');
    assert.ok(await page.getByRole('rowheader', { name: `vm${VMS - 1}`, exact: true }).isVisible(), 'the last row is on screen, not under a spacer');
    await audit('vms-list-end');
    await page.evaluate('window.scrollTo(0, 0)');
    await page.getByRole('rowheader', { name: 'vm0', exact: true }).waitFor();
  });

  it('when the member tabs down the rows from the first, then the focus walks past the rows first rendered, and a focused row stays rendered when the page is scrolled away from it, its link followed with Enter', async () => {
    const initially = (await rendered()).length;
    await page.getByRole('link', { name: 'vm0', exact: true }).focus();
    const steps = initially + 15;
    for (let i = 1; i <= steps; i++) {
      await page.keyboard.press('Tab');
      assert.equal(await focusedLink(), `vm${i}`, `Tab ${i} reaches the next VM's link`);
    }
    // The focused row is in view (the browser scrolled to it) with its place in the table.
    const focusedRow = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: `vm${steps}`, exact: true }) });
    assert.equal(await focusedRow.getAttribute('aria-rowindex'), String(steps + 2));
    assert.ok(await focusedRow.isVisible());
    // Shift+Tab walks back.
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focusedLink(), `vm${steps - 1}`);

    // Scrolled far away, the focused row is still there (and still focused); Enter follows its link.
    await page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)');
    await page.getByRole('rowheader', { name: `vm${VMS - 1}`, exact: true }).waitFor();
    const rows = await rendered();
    assert.ok(rows.some((r) => r.name === `vm${steps - 1}`), 'the focused row is kept');
    assert.equal(await focusedLink(), `vm${steps - 1}`);
    const kept = rows.findIndex((r) => r.name === `vm${steps - 1}`);
    assert.ok(rows[kept + 1].index > VMS / 2, `after the kept row come the rows at the end (row ${rows[kept + 1].index})`);
    await audit('vms-list-focus-kept');
    // Enter follows its link, through the router (no reload: the marker in the page's memory stays).
    await page.evaluate('window.__noReload = true');
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/vms/${fakeVm(steps - 1).id}`);
    assert.equal(await page.evaluate('window.__noReload'), true);
  });

  it('when My VMs is opened at phone width (390 px), then the page does not scroll sideways and the rows in view are rendered', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/`);
    await page.getByRole('rowheader', { name: 'vm0', exact: true }).waitFor();
    assert.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, 'no horizontal scrolling of the page at 390 px');
    const rows = await rendered();
    assert.ok(rows.length >= 5 && rows.length < 100, `rows rendered at phone width: ${rows.length}`);
    assert.equal(await page.locator('main table').getAttribute('aria-rowcount'), String(VMS + 1));
    await audit('vms-list-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
