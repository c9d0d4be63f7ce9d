/**
 * My VMs: name, state, cloud, address, DR state and the age of the newest backup (the RPO a
 * disaster now would have). The list polls fast while a VM is being created, updated or deleted
 * and backs off when nothing changes. The DR columns come from each VM's DR view (the API has no
 * list-level summary yet), read only for rows that come into view.
 */
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { Vm } from '../api/client';
import { useDr, useVms } from '../api/hooks';
import { ErrorNotice, Loading, PageTitle } from '../components';
import { formatDuration } from '../i18n';

export function address(vm: Vm): string | undefined {
  const a = vm.placement?.addresses ?? [];
  return (a.find((x) => x.type === 'floating') ?? a[0])?.addr;
}

/** One observer for every row: `watch(el, cb)` calls cb once, when el comes near the viewport. */
const nearView = (() => {
  const callbacks = new Map<Element, () => void>();
  let observer: IntersectionObserver | undefined;
  return (el: Element, cb: () => void) => {
    observer ??= new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          if (!e.isIntersecting) continue;
          callbacks.get(e.target)?.();
          callbacks.delete(e.target);
          observer?.unobserve(e.target);
        }
      },
      { rootMargin: '200px' },
    );
    callbacks.set(el, cb);
    observer.observe(el);
    return () => {
      callbacks.delete(el);
      observer?.unobserve(el);
    };
  };
})();

function DrCellsLoaded({ vm }: { vm: Vm }) {
  const { t } = useTranslation();
  const dr = useDr(vm.id);
  const d = dr.data;
  const drState = !d ? '…' : !d.protected ? t('drState.none') : d.state ? t(`drState.${d.state.state}`) : t('drState.unknown');
  const age = d?.rpoSecondsNow;
  return (
    <>
      <td>{drState}</td>
      <td>{age === undefined ? (d ? t('vms.noBackup') : '…') : t('vms.ago', { age: formatDuration(age) })}</td>
    </>
  );
}

/**
 * Each row's DR view is one request (and, for a protected VM, a workflow query): only rows the
 * member scrolls to ask for it; until then the cells hold a placeholder and no query.
 */
function DrCells({ vm }: { vm: Vm }) {
  const ref = useRef<HTMLTableCellElement>(null);
  const [seen, setSeen] = useState(false);
  useEffect(() => (ref.current && !seen ? nearView(ref.current, () => setSeen(true)) : undefined), [seen]);
  if (seen && vm.state !== 'deleted') return <DrCellsLoaded vm={vm} />;
  return (
    <>
      <td ref={ref}>…</td>
      <td>…</td>
    </>
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
      {vms.data && vms.data.vms.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="muted">{t('vms.live')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('vms.name')}</th>
                <th scope="col">{t('vms.state')}</th>
                <th scope="col">{t('vms.cloud')}</th>
                <th scope="col">{t('vms.address')}</th>
                <th scope="col">{t('vms.dr')}</th>
                <th scope="col">{t('vms.newestBackup')}</th>
              </tr>
            </thead>
            <tbody>
              {vms.data.vms.map((vm) => (
                <tr key={vm.id}>
                  <th scope="row">
                    <Link to={`/vms/${vm.id}`}>{vm.name}</Link>
                  </th>
                  <td>
                    <span className={`state state-${vm.state}`}>{t(`vmState.${vm.state}`)}</span>
                  </td>
                  <td>{t(`cloud.${vm.placement?.cloud ?? vm.cloud}`)}</td>
                  <td>{address(vm) ?? t('vms.none')}</td>
                  <DrCells vm={vm} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
