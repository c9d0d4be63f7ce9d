/**
 * The environment page's protection (OpenStack environments): group backups — the group policy
 * (view, set, remove; the API's 400 field errors at their fields), a group backup by hand, and
 * the group restore points (complete or incomplete, the members short; a destroyed environment's
 * stay listed), each restorable as a new environment (a name asked, then its page) — and the recovery plan
 * (GET …/dr): its waves in order with each member's DR state, the plan's state, protect and stop
 * protection, a drill of the whole environment and the latest drill's report.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { api, unwrap, type Schemas } from '../api/client';
import { envBusy, keys, useEnvironmentAction, useEnvironmentBackups, useEnvironmentDr, useEnvironmentPolicy } from '../api/hooks';
import { conflictText, ErrorNotice, Field, fieldErrors, Loading, ScrollBox, Select } from '../components';
import { formatDateTime, formatDuration, formatSeconds } from '../i18n';
import { INTERVALS } from './NewVm';
import { TASK_SYMBOL } from './VmTaskGraph';

type Environment = Schemas['Environment'];
type Policy = Schemas['EnvironmentBackupPolicy'];
type Dr = Schemas['EnvironmentDr'];

function everyText(t: ReturnType<typeof useTranslation>['t'], policy: Policy): string {
  const known = INTERVALS.find((i) => i.seconds === policy.intervalSeconds);
  if (known) return t(known.key);
  return policy.intervalSeconds !== undefined ? formatDuration(policy.intervalSeconds) : (policy.cron ?? '');
}

function PolicyForm({ env, policy }: { env: Environment; policy: Policy | null }) {
  const { t } = useTranslation();
  const [interval, setIntervalSeconds] = useState(String(policy?.intervalSeconds ?? 86400));
  const [retention, setRetention] = useState(String(policy?.retention ?? 3));
  const [windowSeconds, setWindowSeconds] = useState(String(policy?.windowSeconds ?? 300));
  const put = useEnvironmentAction(env.id, () =>
    unwrap(
      api.PUT('/api/v1/environments/{id}/backup-policy', {
        params: { path: { id: env.id } },
        // As typed: a field that is not a number comes back as the API's 400 at the field.
        body: { intervalSeconds: Number(interval), retention: retention.trim() === '' ? Number.NaN : Number(retention), windowSeconds: windowSeconds.trim() === '' ? Number.NaN : Number(windowSeconds) },
      }),
    ),
  );
  const remove = useEnvironmentAction(env.id, () => unwrap(api.DELETE('/api/v1/environments/{id}/backup-policy', { params: { path: { id: env.id } } })));
  const errors = fieldErrors(put.error);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    put.mutate(undefined);
  };
  return (
    <form onSubmit={onSubmit} noValidate>
      <div className="field-row">
        <Select label={t('envBackup.every')} name="intervalSeconds" value={interval} onChange={setIntervalSeconds} error={errors.intervalSeconds}>
          {INTERVALS.map((i) => (
            <option key={i.seconds} value={i.seconds}>
              {t(i.key)}
            </option>
          ))}
        </Select>
        <Field label={t('envBackup.retention')} name="retention" inputMode="numeric" value={retention} onChange={(e) => setRetention(e.target.value)} error={errors.retention} autoComplete="off" />
        <Field label={t('envBackup.window')} name="windowSeconds" inputMode="numeric" value={windowSeconds} onChange={(e) => setWindowSeconds(e.target.value)} help={t('envBackup.windowHelp')} error={errors.windowSeconds} autoComplete="off" />
      </div>
      <div className="actions">
        <button type="submit" disabled={put.isPending}>
          {t('envBackup.save')}
        </button>
        {policy && (
          <button type="button" onClick={() => remove.mutate(undefined)} disabled={remove.isPending}>
            {t('envBackup.remove')}
          </button>
        )}
      </div>
      <div role="status" aria-live="polite">
        {put.isSuccess && !put.isPending && <p className="notice">{t('envBackup.saved')}</p>}
      </div>
      {put.error && !Object.keys(errors).length ? <ErrorNotice error={put.error} /> : null}
      {remove.error ? <ErrorNotice error={remove.error} /> : null}
    </form>
  );
}

type Point = Schemas['EnvironmentBackup'];
const RESTORE_CONFLICTS = ['backup_running', 'no_backup'] as const;

/** "Restore as a new environment": the new environment's name, then its page. */
function RestoreForm({ envId, point, onCancel }: { envId: string; point: Point; onCancel: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [idempotencyKey] = useState(() => crypto.randomUUID());
  const restore = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/v1/environments', {
          params: { header: { 'Idempotency-Key': idempotencyKey } },
          body: { name, cloud: 'openstack', restoreFrom: { environmentId: envId, pointId: point.id } },
        }),
      ),
    onSuccess: async (accepted) => {
      await qc.invalidateQueries({ queryKey: keys.environments });
      await navigate(`/environments/${accepted.environment.id}`);
    },
  });
  const errors = fieldErrors(restore.error, { exact: true });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    restore.mutate(undefined);
  };
  const when = formatDateTime(point.startedAt);
  const other = errors['restoreFrom.environmentId'] ?? errors['restoreFrom.pointId'] ?? conflictText(t, restore.error, 'envBackup.restoreError', RESTORE_CONFLICTS);
  return (
    <form onSubmit={onSubmit} noValidate aria-labelledby="restore-title" className="restore-form" data-testid="restore-form">
      <h4 id="restore-title">{t('envBackup.restoreLabel', { when })}</h4>
      <p className="help">{t('envBackup.restoreHelp')}</p>
      <Field label={t('envBackup.restoreName')} name="restoreName" required autoFocus autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} error={errors.name} />
      <div className="actions">
        <button type="submit" className="primary" disabled={restore.isPending}>
          {t('envBackup.restoreSubmit')}
        </button>
        <button type="button" onClick={onCancel}>
          {t('envBackup.cancel')}
        </button>
      </div>
      {restore.error && !errors.name ? <ErrorNotice error={restore.error}>{other}</ErrorNotice> : null}
    </form>
  );
}

function RestorePoints({ envId, moving }: { envId: string; moving: boolean }) {
  const { t } = useTranslation();
  const points = useEnvironmentBackups(envId, true, moving);
  const [restoring, setRestoring] = useState<string | undefined>();
  if (points.isPending) return <Loading />;
  if (points.error) return <ErrorNotice error={points.error} />;
  if (!points.data.backups.length) return <p className="muted">{t('envBackup.empty')}</p>;
  const chosen = points.data.backups.find((p) => p.id === restoring);
  return (
    <>
      <ScrollBox label={t('envBackup.points')}>
        <table className="compact points" aria-labelledby="points-title" data-testid="group-points">
          <thead>
            <tr>
              <th scope="col">{t('envBackup.when')}</th>
              <th scope="col">{t('envBackup.trigger')}</th>
              <th scope="col">{t('envBackup.status')}</th>
              <th scope="col">{t('envBackup.short')}</th>
              <th scope="col">{t('envBackup.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {points.data.backups.map((p) => {
              const short = p.members.filter((m) => m.status !== 'succeeded' && m.status !== 'running' && m.status !== 'pending');
              // A point some member's backup succeeded in can be restored from (the API says which copies are left).
              const restorable = p.status !== 'running' && p.members.some((m) => m.status === 'succeeded');
              const when = formatDateTime(p.startedAt);
              return (
                <tr key={p.id} data-point={p.id} data-trigger={p.trigger}>
                  <td>
                    <time dateTime={p.startedAt}>{when}</time>
                  </td>
                  <td>{t(`trigger.${p.trigger}`)}</td>
                  <td>
                    <span className={`state state-${p.status === 'complete' ? 'succeeded' : p.status === 'incomplete' ? 'failed' : p.status}`}>{t(`groupStatus.${p.status}`)}</span>
                  </td>
                  <td className="wrap">{short.length ? short.map((m) => `${m.name} (${t(`memberBackupStatus.${m.status}`)})`).join(', ') : t('envBackup.noneShort')}</td>
                  <td>
                    {restorable && (
                      <button type="button" aria-label={t('envBackup.restoreLabel', { when })} aria-expanded={restoring === p.id} onClick={() => setRestoring(restoring === p.id ? undefined : p.id)}>
                        {t('envBackup.restore')}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </ScrollBox>
      {chosen && <RestoreForm key={chosen.id} envId={envId} point={chosen} onCancel={() => setRestoring(undefined)} />}
    </>
  );
}

export function EnvironmentBackups({ env }: { env: Environment }) {
  const { t } = useTranslation();
  const active = env.state === 'active';
  const destroyed = env.state === 'destroyed';
  const policy = useEnvironmentPolicy(env.id, !destroyed);
  const run = useEnvironmentAction(env.id, () => unwrap(api.POST('/api/v1/environments/{id}/backups', { params: { path: { id: env.id } } })));
  const p = policy.data;
  return (
    <section aria-labelledby="group-backups-title" className="card">
      <h2 id="group-backups-title">{t('envBackup.title')}</h2>
      <p className="help">{t('envBackup.intro')}</p>
      {destroyed ? (
        <p data-testid="group-policy">{t('envBackup.destroyedNote')}</p>
      ) : policy.isPending ? (
        <Loading />
      ) : policy.error ? (
        <ErrorNotice error={policy.error} />
      ) : (
        <>
          <p data-testid="group-policy">
            {p ? t('envBackup.policyText', { every: everyText(t, p), retention: p.retention, window: p.windowSeconds }) : t('envBackup.noPolicy')}
            {p?.paused ? ` ${t('envBackup.paused')}` : ''}
          </p>
          {active && <PolicyForm key={p ? `${p.intervalSeconds}-${p.retention}-${p.windowSeconds}` : 'none'} env={env} policy={p ?? null} />}
        </>
      )}
      {active && (
        <p>
          <button type="button" onClick={() => run.mutate(undefined)} disabled={run.isPending}>
            {t('envBackup.backUpNow')}
          </button>
        </p>
      )}
      <div role="status" aria-live="polite">
        {run.isSuccess && <p className="notice">{t('envBackup.started')}</p>}
      </div>
      {run.error ? <ErrorNotice error={run.error} /> : null}
      <h3 id="points-title">{t('envBackup.points')}</h3>
      <RestorePoints envId={env.id} moving={envBusy(env)} />
    </section>
  );
}

function DrillReport({ drill }: { drill: NonNullable<Dr['lastDrill']> }) {
  const { t } = useTranslation();
  const outcome = !drill.finishedAt ? t('envDr.drillRunning') : drill.ok ? (drill.cleanedUp ? t('envDr.drillOk') : t('envDr.drillOkLeft')) : t('envDr.drillFailed', { error: drill.error ?? '' });
  return (
    <>
      <p data-testid="drill-outcome">{outcome}</p>
      <ScrollBox label={t('envDr.drillCaption', { when: formatDateTime(drill.startedAt) })}>
        <table className="compact">
          <caption>{t('envDr.drillCaption', { when: formatDateTime(drill.startedAt) })}</caption>
          <thead>
            <tr>
              <th scope="col">{t('env.member')}</th>
              <th scope="col">{t('envDr.waveColumn')}</th>
              <th scope="col">{t('envDr.result')}</th>
              <th scope="col">{t('envDr.rto')}</th>
              <th scope="col">{t('env.error')}</th>
            </tr>
          </thead>
          <tbody>
            {drill.members.map((m) => (
              <tr key={m.name}>
                <th scope="row">{m.name}</th>
                <td>{m.wave + 1}</td>
                <td>
                  <span className={`state state-${m.result}`}>
                    {TASK_SYMBOL[m.result]} {t(`taskState.${m.result}`)}
                  </span>
                </td>
                <td>{m.rtoSeconds !== undefined ? formatSeconds(m.rtoSeconds) : t('env.nothing')}</td>
                <td className="wrap">{m.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollBox>
    </>
  );
}

export function EnvironmentDr({ env }: { env: Environment }) {
  const { t } = useTranslation();
  const active = env.state === 'active';
  const dr = useEnvironmentDr(env.id);
  const protect = useEnvironmentAction(env.id, () => unwrap(api.POST('/api/v1/environments/{id}/dr', { params: { path: { id: env.id } }, body: {} })));
  const unprotect = useEnvironmentAction(env.id, () => unwrap(api.DELETE('/api/v1/environments/{id}/dr', { params: { path: { id: env.id } } })));
  const drill = useEnvironmentAction(env.id, () => unwrap(api.POST('/api/v1/environments/{id}/drills', { params: { path: { id: env.id } }, body: {} })));
  const d = dr.data;
  const drStateOf = (name: string) => d?.members.find((m) => m.name === name)?.drState;
  return (
    <section aria-labelledby="env-dr-title" className="card">
      <h2 id="env-dr-title">{t('envDr.title')}</h2>
      <p className="help">{t('envDr.intro')}</p>
      {dr.isPending && <Loading />}
      <ErrorNotice error={dr.error} />
      {d && (
        <>
          <dl className="facts">
            <dt>{t('envDr.planState')}</dt>
            <dd data-testid="plan-state">{!d.protected ? t('drState.none') : d.state ? t(`drState.${d.state}`) : t('drState.unknown')}</dd>
            {d.lastError && (
              <>
                <dt>{t('env.lastError')}</dt>
                <dd className="wrap">{d.lastError}</dd>
              </>
            )}
          </dl>
          {!d.protected && <p className="muted">{t('envDr.notProtected')}</p>}
          <h3 id="waves-title">{t('envDr.waves')}</h3>
          <ol className="waves" aria-labelledby="waves-title" data-testid="dr-waves">
            {d.plan.waves.map((wave, i) => (
              <li key={i} data-wave={i} aria-current={d.currentWave === i && d.state !== 'Protected' ? 'step' : undefined}>
                <strong>{t('envDr.wave', { n: i + 1 })}</strong>:{' '}
                {wave.map((name, j) => {
                  const s = drStateOf(name);
                  return (
                    <span key={name} data-member={name}>
                      {j > 0 ? ', ' : ''}
                      {name}
                      {d.protected ? ` (${t('envDr.memberDr')}: ${s ? t(`drState.${s}`) : t('drState.unknown')})` : ''}
                    </span>
                  );
                })}
              </li>
            ))}
          </ol>
          {active && (
            <div className="actions">
              {!d.protected ? (
                <button type="button" className="primary" onClick={() => protect.mutate(undefined)} disabled={protect.isPending}>
                  {t('envDr.protect')}
                </button>
              ) : (
                <>
                  <button type="button" onClick={() => drill.mutate(undefined)} disabled={drill.isPending || (!!d.lastDrill && !d.lastDrill.finishedAt)}>
                    {t('envDr.drill')}
                  </button>
                  <button type="button" onClick={() => unprotect.mutate(undefined)} disabled={unprotect.isPending}>
                    {t('envDr.unprotect')}
                  </button>
                </>
              )}
            </div>
          )}
          <div role="status" aria-live="polite">
            {protect.isSuccess && d.protected && d.state !== 'Protected' && <p className="notice">{t('envDr.protected')}</p>}
            {unprotect.isSuccess && !d.protected && <p className="notice">{t('envDr.unprotected')}</p>}
            {drill.isSuccess && !d.lastDrill?.finishedAt && <p className="notice">{t('envDr.drillStarted')}</p>}
          </div>
          {[protect.error, unprotect.error, drill.error].map((e, i) => (e ? <ErrorNotice key={i} error={e} /> : null))}
          <h3>{t('envDr.lastDrill')}</h3>
          {d.lastDrill ? <DrillReport drill={d.lastDrill} /> : <p className="muted">{t('envDr.noDrill')}</p>}
        </>
      )}
    </section>
  );
}
