/**
 * Alerts: the member's DR events, newest first, with an unread count (events newer than the last
 * visit, kept in localStorage) and a live notice when a disaster, failover or failback happens
 * to one of their VMs while the console is open (the events list is polled every 15 s).
 */
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useEvents, useVms } from '../api/hooks';
import { ErrorNotice, Loading, PageTitle } from '../components';
import { formatDateTime } from '../i18n';

const SEEN_KEY = 'vmflow.alerts.seen';
const NOTICE = /^(disaster\.|failover\.|failback\.)/;

function seenAt(): number {
  try {
    return Number(localStorage.getItem(SEEN_KEY) ?? 0);
  } catch {
    return 0;
  }
}

export function useUnreadCount(enabled: boolean): number {
  const events = useEvents(enabled);
  const since = seenAt();
  return (events.data?.events ?? []).filter((e) => Date.parse(e.at) > since).length;
}

/** A banner for disaster, failover and failback events that arrive while the page is open. */
export function AlertNotice() {
  const { t } = useTranslation();
  const events = useEvents();
  const vms = useVms();
  const firstSeen = useRef<Set<string> | undefined>(undefined);
  const [notice, setNotice] = useState<{ id: string; text: string }>();
  useEffect(() => {
    const list = events.data?.events;
    if (!list) return;
    if (!firstSeen.current) {
      firstSeen.current = new Set(list.map((e) => e.id)); // what was there before the page opened is not news
      return;
    }
    const fresh = list.find((e) => !firstSeen.current!.has(e.id) && NOTICE.test(e.kind));
    for (const e of list) firstSeen.current.add(e.id);
    if (fresh) {
      const vmName = vms.data?.vms.find((v) => v.id === fresh.vmId)?.name ?? fresh.vmId;
      setNotice({ id: fresh.id, text: t('alerts.notice', { vm: vmName, what: t(`eventKind.${fresh.kind}`) }) });
    }
  }, [events.data, vms.data, t]);
  if (!notice) return null;
  return (
    <div className="notice notice-alert" role="alert">
      <p>
        {notice.text} <Link to="/alerts">{t('nav.alerts')}</Link>
      </p>
      <button type="button" onClick={() => setNotice(undefined)}>
        {t('alerts.dismiss')}
      </button>
    </div>
  );
}

export function AlertsPage() {
  const { t } = useTranslation();
  const events = useEvents();
  const vms = useVms();
  const [since] = useState(seenAt);
  useEffect(() => {
    if (!events.data) return;
    try {
      localStorage.setItem(SEEN_KEY, String(Date.now()));
    } catch {
      // unread counts then restart with the page
    }
  }, [events.data]);
  const name = (vmId: string) => vms.data?.vms.find((v) => v.id === vmId)?.name ?? vmId;
  return (
    <>
      <PageTitle title={t('alerts.title')}>{t('alerts.title')}</PageTitle>
      <p>{t('alerts.intro')}</p>
      {events.isPending && <Loading />}
      <ErrorNotice error={events.error} />
      {events.data && events.data.events.length === 0 && <p className="card empty">{t('alerts.none')}</p>}
      {events.data && events.data.events.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('alerts.when')}</th>
                <th scope="col">{t('alerts.vm')}</th>
                <th scope="col">{t('alerts.what')}</th>
                <th scope="col">{t('alerts.message')}</th>
              </tr>
            </thead>
            <tbody>
              {events.data.events.map((e) => (
                <tr key={e.id} className={Date.parse(e.at) > since ? 'unread' : undefined}>
                  <td>
                    <time dateTime={e.at}>{formatDateTime(e.at)}</time>
                    {Date.parse(e.at) > since && <span className="badge">{t('alerts.unread')}</span>}
                  </td>
                  <td>
                    <Link to={`/vms/${e.vmId}`}>{name(e.vmId)}</Link>
                  </td>
                  <td>{t(`eventKind.${e.kind}`)}</td>
                  <td>{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
