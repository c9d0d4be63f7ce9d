/**
 * My VMs: name, state, cloud, address, DR state, the age of the newest backup (the RPO a disaster
 * now would have) and the next scheduled backup. One request brings the whole list with each VM's
 * DR summary and next backup (GET /vms). It polls fast while a VM is being created, updated or
 * deleted or a failover or failback runs, and backs off when nothing changes.
 *
 * Only the rows in view are rendered (@tanstack/react-virtual, scrolled by the page itself): the
 * table stays a table — a header row, `aria-rowcount` for every row it has (the header and one per
 * VM) and `aria-rowindex` on each rendered row — and rows out of view are stood in for by two
 * hidden spacer rows of their height, so the page scrolls as if all were there. A row that holds
 * the keyboard focus stays rendered when scrolled away; tabbing down the links brings the next rows
 * in (the browser scrolls a focused link into view, and rows beyond the view are rendered ahead).
 */
import { useWindowVirtualizer, defaultRangeExtractor, type Range } from '@tanstack/react-virtual';
import { useTranslation } from 'react-i18next';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FocusEvent, type MouseEvent, type ReactElement } from 'react';
import { Link, useNavigate } from 'react-router';
import type { Vm } from '../api/client';
import { useVms } from '../api/hooks';
import { ErrorNotice, Loading, PageTitle } from '../components';
import { formatDuration, formatShortDateTime } from '../i18n';

export function address(vm: Vm): string | undefined {
  const a = vm.placement?.addresses ?? [];
  return (a.find((x) => x.type === 'floating') ?? a[0])?.addr;
}

type T = ReturnType<typeof useTranslation>['t'];

const COLUMNS = 7;
/** A row of one line of text (measured once rendered: a row that wraps is taller). */
const ROW_ESTIMATE_PX = 42;
/** Rows rendered beyond the view on each side: what scrolling or tabbing reaches before the next render. */
const OVERSCAN = 10;
/** The backup ages' clock step: rows are rebuilt for a new age at most this often. */
const AGE_STEP_MS = 10_000;

/**
 * One row, as plain elements: no component, hook or router link per row (the table's click handler
 * routes the links without a reload). `index` is the VM's place in the list; the header is row 1.
 */
function row(vm: Vm, index: number, now: number, t: T, measure: (el: HTMLTableRowElement | null) => void) {
  const deleted = vm.state === 'deleted';
  const d = vm.dr;
  const drState = deleted || !d ? t('vms.none') : !d.protected ? t('drState.none') : d.state ? t(`drState.${d.state}`) : t('drState.unknown');
  const newest = d?.newestBackupAt;
  return (
    <tr key={vm.id} ref={measure} data-index={index} aria-rowindex={index + 2}>
      <th scope="row">
        <a href={`/vms/${vm.id}`}>{vm.name}</a>
      </th>
      <td>
        <span className={`state state-${vm.state}`}>{t(`vmState.${vm.state}`)}</span>
      </td>
      <td>{t(`cloud.${vm.placement?.cloud ?? vm.cloud}`)}</td>
      <td>{address(vm) ?? t('vms.none')}</td>
      <td>{drState}</td>
      <td>{deleted ? t('vms.none') : newest ? t('vms.ago', { age: formatDuration((now - Date.parse(newest)) / 1000) }) : t('vms.noBackup')}</td>
      <td>{deleted ? t('vms.none') : vm.nextBackupAt ? <time dateTime={vm.nextBackupAt}>{t('vms.nextAbout', { time: formatShortDateTime(vm.nextBackupAt) })}</time> : t('vms.noSchedule')}</td>
    </tr>
  );
}

/**
 * `t` remembering its answers: a table's cells repeat a few labels ("Active", "OpenStack", "3 hours
 * ago") hundreds of times, and each i18next lookup parses its key again.
 */
function rememberingT(t: T): T {
  const answers = new Map<string, string>();
  return ((key: string, options?: Record<string, unknown>) => {
    const k = options ? `${key}\n${JSON.stringify(options)}` : key;
    let answer = answers.get(k);
    if (answer === undefined) answers.set(k, (answer = String((t as (k: string, o?: Record<string, unknown>) => unknown)(key, options))));
    return answer;
  }) as T;
}

/** The height of rows not rendered, hidden from assistive technology (aria-rowcount tells of them). */
function spacer(key: string, height: number) {
  return (
    <tr key={key} className="spacer" aria-hidden="true">
      <td colSpan={COLUMNS} style={{ height }} />
    </tr>
  );
}

function VmTable({ vms }: { vms: Vm[] }) {
  const { t: translate } = useTranslation();
  const t = useMemo(() => rememberingT(translate), [translate]);
  const navigate = useNavigate();
  // One clock for every row's backup age, read when the list (re)renders, in steps: a row is
  // built again only when its VM, its place or this clock changed (see rowOf).
  const now = Math.floor(Date.now() / AGE_STEP_MS) * AGE_STEP_MS;
  const body = useRef<HTMLTableSectionElement>(null);
  // Where the rows start in the page (what is above them: header, title, caption, column heads).
  const [top, setTop] = useState(0);
  useLayoutEffect(() => {
    const el = body.current;
    if (!el) return;
    const at = Math.round(el.getBoundingClientRect().top + window.scrollY);
    if (at !== top) setTop(at);
  });

  // The VM whose row holds the focus (by id: the list may change under it) stays rendered.
  const focusedId = useRef<string | null>(null);
  const indexOf = useMemo(() => new Map(vms.map((vm, i) => [vm.id, i])), [vms]);
  const indexOfRef = useRef(indexOf);
  indexOfRef.current = indexOf;
  const rangeExtractor = useCallback((range: Range) => {
    const indexes = defaultRangeExtractor(range);
    const f = focusedId.current === null ? undefined : indexOfRef.current.get(focusedId.current);
    if (f !== undefined && !indexes.includes(f)) {
      indexes.push(f);
      indexes.sort((a, b) => a - b);
    }
    return indexes;
  }, []);
  const getItemKey = useCallback((i: number) => vms[i].id, [vms]);

  const virtualizer = useWindowVirtualizer<HTMLTableRowElement>({
    count: vms.length,
    estimateSize: () => ROW_ESTIMATE_PX,
    overscan: OVERSCAN,
    scrollMargin: top,
    getItemKey,
    rangeExtractor,
    // The window's size from the first render on (not 0×0 until mounted).
    initialRect: { width: window.innerWidth, height: window.innerHeight },
  });

  // The rows' links go through the router (a plain click: no reload; other clicks as the browser does).
  const follow = (e: MouseEvent<HTMLTableSectionElement>) => {
    const a = (e.target as HTMLElement).closest('a');
    if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    void navigate(a.getAttribute('href')!);
  };
  const onFocus = (e: FocusEvent<HTMLTableSectionElement>) => {
    const index = (e.target as HTMLElement).closest('tr[data-index]')?.getAttribute('data-index');
    focusedId.current = index == null ? null : (vms[Number(index)]?.id ?? null);
  };
  const onBlur = (e: FocusEvent<HTMLTableSectionElement>) => {
    if (!e.currentTarget.contains(e.relatedTarget as Node | null)) focusedId.current = null;
  };

  // Rows already built are given to React again as the same elements, which it does not render
  // again: the table renders several times as it mounts (where its rows start, each row measured)
  // and on every scroll, and building a row's cells (seven translations) was most of the time
  // from the list's arrival to the rows on screen (issue 14's budget).
  const built = useRef(new Map<string, { vm: Vm; index: number; now: number; t: T; el: ReactElement }>());
  useEffect(() => {
    for (const id of built.current.keys()) if (!indexOf.has(id)) built.current.delete(id);
  }, [indexOf]);
  const rowOf = (index: number): ReactElement => {
    const vm = vms[index];
    const kept = built.current.get(vm.id);
    if (kept && kept.vm === vm && kept.index === index && kept.now === now && kept.t === t) return kept.el;
    const el = row(vm, index, now, t, virtualizer.measureElement);
    built.current.set(vm.id, { vm, index, now, t, el });
    return el;
  };

  // The rendered rows in order, a spacer for each run of rows left out (above, below, and around
  // a focused row kept far from the view).
  const rows: ReactElement[] = [];
  let at = top;
  for (const item of virtualizer.getVirtualItems()) {
    if (item.start > at) rows.push(spacer(rows.length === 0 ? 'gap-start' : `gap-${item.key}`, item.start - at));
    rows.push(rowOf(item.index));
    at = item.end;
  }
  const end = top + virtualizer.getTotalSize();
  if (end > at) rows.push(spacer('gap-end', end - at));

  return (
    <div className="table-wrap">
      <table aria-rowcount={vms.length + 1} className="vm-list">
        <caption className="muted">{t('vms.live')}</caption>
        <thead>
          <tr aria-rowindex={1}>
            <th scope="col">{t('vms.name')}</th>
            <th scope="col">{t('vms.state')}</th>
            <th scope="col">{t('vms.cloud')}</th>
            <th scope="col">{t('vms.address')}</th>
            <th scope="col">{t('vms.dr')}</th>
            <th scope="col">{t('vms.newestBackup')}</th>
            <th scope="col">{t('vms.nextBackup')}</th>
          </tr>
        </thead>
        <tbody ref={body} onClick={follow} onFocus={onFocus} onBlur={onBlur}>
          {rows}
        </tbody>
      </table>
    </div>
  );
}

export function VmsPage() {
  const { t } = useTranslation();
  const vms = useVms();
  return (
    <>
      <PageTitle title={t('vms.title')}>{t('vms.title')}</PageTitle>
      {vms.isPending && <Loading />}
      <ErrorNotice error={vms.error} />
      {vms.data && vms.data.vms.length === 0 && (
        <section className="card empty" aria-labelledby="empty-title">
          <h2 id="empty-title">{t('vms.emptyTitle')}</h2>
          <p>{t('vms.emptyText')}</p>
          <p>
            <Link className="button primary" to="/vms/new">
              {t('vms.emptyAction')}
            </Link>
          </p>
        </section>
      )}
      {vms.data && vms.data.vms.length > 0 && <VmTable vms={vms.data.vms} />}
    </>
  );
}
