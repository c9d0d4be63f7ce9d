/**
 * The VM page's DR panel: the state, the state machine drawn with the current state lit, the last
 * RPO/RTO and the events (each with its own RPO and RTO), the guest health check (view, set,
 * remove; the API's 400 field errors at their fields; what the monitor last learnt) and the drill
 * reports (GET …/dr/drills: when, where, outcome, measured RTO, what was checked, clean-up).
 */
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { keys, useDr, useDrills, useVmAction } from '../api/hooks';
import { ErrorNotice, Field, fieldErrors, Loading } from '../components';
import { formatDateTime, formatDuration, formatSeconds } from '../i18n';
import { DrWorkflowLink, WorkflowLink } from './OperatorLinks';
import { DrMachine } from './VmDrMachine';

type DrView = Schemas['DrView'];
type HealthCheck = Schemas['GuestHealthCheck'];
type Drill = Schemas['DrillList']['drills'][number];

const secs = (s: number | undefined) => (s === undefined ? '—' : formatDuration(s));

function EventMeasures({ event }: { event: DrView['events'][number] }) {
  const { t } = useTranslation();
  const parts = [
    event.rpoSeconds !== undefined ? t('drEvents.rpo', { value: formatSeconds(event.rpoSeconds) }) : '',
    event.rtoSeconds !== undefined ? t('drEvents.rto', { value: formatSeconds(event.rtoSeconds) }) : '',
  ].filter(Boolean);
  return parts.length ? <span className="measures"> ({parts.join(' · ')})</span> : null;
}

function DrillReports({ vmId, newestDrillEvent, drillRunning }: { vmId: string; newestDrillEvent?: string; drillRunning?: string }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const drills = useDrills(vmId, drillRunning);
  const running = !!drillRunning && !!drills.data && !drills.data.drills.some((d) => d.workflowId === drillRunning);
  // A drill's report is stored with its event: read the reports again when a new drill event shows.
  useEffect(() => {
    if (newestDrillEvent) void qc.invalidateQueries({ queryKey: keys.drills(vmId) });
  }, [newestDrillEvent, vmId, qc]);
  let body: ReactNode;
  if (drills.isPending) body = <Loading />;
  else if (drills.error) body = <ErrorNotice error={drills.error} />;
  else if (!drills.data.drills.length) body = <p className="muted">{t('drills.none')}</p>;
  else
    body = (
      <div className="table-wrap">
        <table className="compact" aria-labelledby="drills-title" data-testid="drill-reports">
          <thead>
            <tr>
              <th scope="col">{t('drills.when')}</th>
              <th scope="col">{t('drills.target')}</th>
              <th scope="col">{t('drills.outcome')}</th>
              <th scope="col">{t('drills.rto')}</th>
              <th scope="col">{t('drills.rpo')}</th>
              <th scope="col">{t('drills.checked')}</th>
              <th scope="col">{t('drills.cleanup')}</th>
              <th scope="col">{t('drills.problem')}</th>
            </tr>
          </thead>
          <tbody>
            {drills.data.drills.map((d: Drill) => (
              <tr key={d.id}>
                <td>
                  <time dateTime={d.finishedAt}>{formatDateTime(d.finishedAt)}</time>
                  <br />
                  <WorkflowLink workflowId={d.workflowId} what={t('operator.drill')} />
                </td>
                <td>{t(`drills.targets.${d.target}`)}</td>
                <td>
                  <span className={`state state-${d.ok ? 'succeeded' : 'failed'}`}>{d.ok ? `✓ ${t('drills.passed')}` : `✗ ${t('drills.failed')}`}</span>
                </td>
                <td>{d.bootSeconds !== undefined ? formatSeconds(d.bootSeconds) : '—'}</td>
                <td>{d.rpoSeconds !== undefined ? formatDuration(d.rpoSeconds) : '—'}</td>
                <td>{d.backupId ? t('drills.checkedText', { backup: d.backupId.slice(0, 8) }) : t('drills.checkedUnknown')}</td>
                <td>
                  <span className={`state state-${d.cleanedUp ? 'succeeded' : 'failed'}`}>{d.cleanedUp ? `✓ ${t('drills.cleanedUp')}` : `✗ ${t('drills.notCleanedUp')}`}</span>
                </td>
                <td className="wrap">{d.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  return (
    <section aria-labelledby="drills-title">
      <h3 id="drills-title">{t('drills.title')}</h3>
      <div role="status" aria-live="polite">
        {running && <p className="notice">{t('drills.running')}</p>}
      </div>
      {body}
    </section>
  );
}

const DEFAULTS = { intervalSeconds: 30, timeoutSeconds: 3, failureThreshold: 3, successThreshold: 2 } as const;
type NumberField = keyof typeof DEFAULTS;
const NUMBER_FIELDS: Array<{ key: NumberField; label: string }> = [
  { key: 'intervalSeconds', label: 'healthCheck.interval' },
  { key: 'timeoutSeconds', label: 'healthCheck.timeout' },
  { key: 'failureThreshold', label: 'healthCheck.failureThreshold' },
  { key: 'successThreshold', label: 'healthCheck.successThreshold' },
];

/** A form value as the API wants it: a number, or left out when empty (the API's default). */
function numberOrAbsent(v: string): number | undefined {
  if (v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN; // NaN is sent as null by JSON: the API names the field
}

function GuestStatus({ guest }: { guest: NonNullable<DrView['guest']> }) {
  const { t } = useTranslation();
  return (
    <p data-testid="guest-status">
      <strong>{t('healthCheck.status')}:</strong>{' '}
      <span className={`state state-${guest.ok ? 'succeeded' : 'failed'}`}>{guest.ok ? `✓ ${t('healthCheck.statusOk')}` : `✗ ${t('healthCheck.statusFailing')}`}</span>
      {' — '}
      {guest.armed ? t('healthCheck.armed') : t('healthCheck.notArmed')}
      {' — '}
      {guest.detail} ({t('healthCheck.since', { when: formatDateTime(guest.since) })})
    </p>
  );
}

function HealthCheckForm({ vmId, dr }: { vmId: string; dr: DrView }) {
  const { t } = useTranslation();
  const protocolId = useId();
  const current = dr.healthCheck;
  const [protocol, setProtocol] = useState<HealthCheck['protocol']>(current?.protocol ?? 'http');
  const [port, setPort] = useState(current ? String(current.port) : '');
  const [path, setPath] = useState(current?.path ?? '');
  const [numbers, setNumbers] = useState<Record<NumberField, string>>(() => ({
    intervalSeconds: current?.intervalSeconds !== undefined ? String(current.intervalSeconds) : '',
    timeoutSeconds: current?.timeoutSeconds !== undefined ? String(current.timeoutSeconds) : '',
    failureThreshold: current?.failureThreshold !== undefined ? String(current.failureThreshold) : '',
    successThreshold: current?.successThreshold !== undefined ? String(current.successThreshold) : '',
  }));
  const [last, setLast] = useState<'saved' | 'removed'>();
  const put = useVmAction(vmId, (healthCheck: HealthCheck | null) => {
    setLast(healthCheck ? 'saved' : 'removed');
    return unwrap(api.PUT('/api/v1/vms/{id}/dr', { params: { path: { id: vmId } }, body: { healthCheck } }));
  });
  const errors = fieldErrors(put.error);
  const at = (field: string) => errors[`healthCheck.${field}`];
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const check: Record<string, unknown> = { protocol, port: numberOrAbsent(port) };
    if (protocol !== 'tcp' && path.trim()) check.path = path.trim();
    for (const { key } of NUMBER_FIELDS) {
      const n = numberOrAbsent(numbers[key]);
      if (n !== undefined) check[key] = n;
    }
    // Sent as typed: the API checks it and answers which field is wrong.
    put.mutate(check as HealthCheck);
  };
  return (
    <section aria-labelledby="health-title">
      <h3 id="health-title">{t('healthCheck.title')}</h3>
      <p className="help">{t('healthCheck.intro')}</p>
      {current ? null : <p className="muted">{t('healthCheck.none')}</p>}
      {dr.guest ? <GuestStatus guest={dr.guest} /> : current ? <p className="muted">{t('healthCheck.status')}: {t('healthCheck.notChecked')}</p> : null}
      <form onSubmit={onSubmit} noValidate aria-labelledby="health-title">
        {put.error ? <ErrorNotice error={put.error}>{Object.keys(errors).length ? t('healthCheck.fixFields') : undefined}</ErrorNotice> : null}
        <div className="field">
          <label htmlFor={protocolId}>{t('healthCheck.protocol')}</label>
          <select
            id={protocolId}
            name="protocol"
            value={protocol}
            onChange={(e) => setProtocol(e.target.value as HealthCheck['protocol'])}
            aria-invalid={at('protocol') ? true : undefined}
            aria-describedby={at('protocol') ? `${protocolId}-error` : undefined}
          >
            <option value="tcp">TCP</option>
            <option value="http">HTTP</option>
            <option value="https">HTTPS</option>
          </select>
          {at('protocol') && (
            <p className="field-error" id={`${protocolId}-error`}>
              {at('protocol')}
            </p>
          )}
        </div>
        <div className="field-row">
          <Field label={t('healthCheck.port')} name="port" type="number" inputMode="numeric" min={1} max={65535} value={port} onChange={(e) => setPort(e.target.value)} error={at('port')} />
          {protocol !== 'tcp' && <Field label={t('healthCheck.path')} name="path" value={path} onChange={(e) => setPath(e.target.value)} help={t('healthCheck.pathHelp')} error={at('path')} autoComplete="off" />}
        </div>
        <div className="field-row">
          {NUMBER_FIELDS.map(({ key, label }) => (
            <Field
              key={key}
              label={t(label)}
              name={key}
              type="number"
              inputMode="numeric"
              value={numbers[key]}
              onChange={(e) => setNumbers((n) => ({ ...n, [key]: e.target.value }))}
              help={t('healthCheck.optionalHelp', { value: DEFAULTS[key] })}
              error={at(key)}
            />
          ))}
        </div>
        <div className="actions">
          <button type="submit" disabled={put.isPending}>
            {t('healthCheck.save')}
          </button>
          {current && (
            <button type="button" onClick={() => put.mutate(null)} disabled={put.isPending}>
              {t('healthCheck.remove')}
            </button>
          )}
        </div>
        <div role="status" aria-live="polite">
          {put.isSuccess && last && <p className="notice">{t(`healthCheck.${last}`)}</p>}
        </div>
      </form>
    </section>
  );
}

export function DrPanel({ vmId, drillRunning }: { vmId: string; drillRunning?: string }) {
  const { t } = useTranslation();
  const dr = useDr(vmId);
  const qc = useQueryClient();
  const drState = dr.data?.state?.state;
  // A failover or failback moves the VM: read its placement again when the DR state changes.
  useEffect(() => {
    if (drState) void qc.invalidateQueries({ queryKey: keys.vm(vmId) });
  }, [drState, vmId, qc]);
  if (dr.isPending) return <Loading />;
  if (dr.error) return <ErrorNotice error={dr.error} />;
  const d = dr.data;
  const state = !d.protected ? t('drState.none') : d.state ? t(`drState.${d.state.state}`) : t('drState.unknown');
  const newestDrillEvent = d.events.find((e) => e.kind === 'drill.completed' || e.kind === 'drill.failed')?.id;
  return (
    <>
      <dl className="facts">
        <dt>{t('vm.drState')}</dt>
        <dd data-testid="dr-state">
          {state}
          {d.state?.awaitingApproval ? ` — ${t('drMachine.awaitingApproval')}` : ''}
        </dd>
        <dt>{t('vm.rpoNow')}</dt>
        <dd>{d.rpoSecondsNow === undefined ? t('vms.noBackup') : t('vms.ago', { age: formatDuration(d.rpoSecondsNow) })}</dd>
        <dt>{t('vm.lastRpo')}</dt>
        <dd>{secs(d.lastRpoSeconds)}</dd>
        <dt>{t('vm.lastRto')}</dt>
        <dd>{secs(d.lastRtoSeconds)}</dd>
      </dl>
      {d.protected && (
        <p>
          <DrWorkflowLink vmId={vmId} />
        </p>
      )}
      <DrMachine dr={d} />
      {d.events.length > 0 && (
        <>
          <h3>{t('vm.events')}</h3>
          <ul className="timeline" data-testid="dr-events">
            {d.events.slice(0, 10).map((e) => (
              <li key={e.id}>
                <time dateTime={e.at}>{formatDateTime(e.at)}</time> — {t(`eventKind.${e.kind}`)}: {e.message}
                <EventMeasures event={e} />
              </li>
            ))}
          </ul>
        </>
      )}
      {d.protected ? <HealthCheckForm vmId={vmId} dr={d} /> : <p className="muted">{t('healthCheck.needsProtection')}</p>}
      <DrillReports vmId={vmId} newestDrillEvent={newestDrillEvent} drillRunning={drillRunning} />
    </>
  );
}
