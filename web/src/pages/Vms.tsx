/**
 * My VMs: name, state, cloud, address, DR state, the age of the newest backup (the RPO a disaster
 * now would have) and the next scheduled backup. One request brings the whole list with each VM's
 * DR summary and next backup (GET /vms). It polls fast while a VM is being created, updated or
 * deleted or a failover or failback runs, and backs off when nothing changes.
 */
import { useTranslation } from 'react-i18next';
import type { MouseEvent } from 'react';
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

/**
 * One row, as plain elements: no component, hook or router link per row, so 500 rows cost little
 * more than their elements (the table's click handler routes the links without a reload).
 */
function row(vm: Vm, now: number, t: T) {
  const deleted = vm.state === 'deleted';
  const d = vm.dr;
  const drState = deleted || !d ? t('vms.none') : !d.protected ? t('drState.none') : d.state ? t(`drState.${d.state}`) : t('drState.unknown');
  const newest = d?.newestBackupAt;
  return (
    <tr key={vm.id}>
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

export function VmsPage() {
  const { t } = useTranslation();
  const vms = useVms();
  const navigate = useNavigate();
  // One clock for every row's backup age, read when the list (re)renders.
  const now = Date.now();
  // The rows' links go through the router (a plain click: no reload; other clicks as the browser does).
  const follow = (e: MouseEvent<HTMLTableSectionElement>) => {
    const a = (e.target as HTMLElement).closest('a');
    if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    void navigate(a.getAttribute('href')!);
  };
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
                <th scope="col">{t('vms.nextBackup')}</th>
              </tr>
            </thead>
            <tbody onClick={follow}>{vms.data.vms.map((vm) => row(vm, now, t))}</tbody>
          </table>
        </div>
      )}
    </>
  );
}
