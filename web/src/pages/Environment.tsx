/**
 * One environment: its state, network, failed members, last error and the environment it was
 * restored from; the task graph running now or last (create, roll-back or destroy) drawn with each
 * member's task state, polled with back-off (VmTaskGraph.tsx's drawing and table); a `partial`
 * environment's retry of its failed members; the members with their VMs' states, each linking to
 * its VM page; group backups, restore from a group point, and the recovery plan
 * (EnvironmentProtection.tsx); and Destroy, the name typed to confirm, with or without the final
 * backup (a destroy the final backup stopped says so and is offered again).
 */
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { FINAL_BACKUP_TASK } from '../../../src/contracts/environment';
import { api, isApiError, unwrap, type Schemas } from '../api/client';
import { useEnvironment, useEnvironmentAction, useEnvironmentBackups } from '../api/hooks';
import { conflictText, ErrorNotice, Field, Loading, PageTitle, ScrollBox } from '../components';
import { formatDateTime } from '../i18n';
import { EnvironmentBackups, EnvironmentDr } from './EnvironmentProtection';
import { OperatorNote, WorkflowLink } from './OperatorLinks';
import { TaskGraphSvg, TaskTable } from './VmTaskGraph';

type Environment = Schemas['Environment'];

function GraphSection({ env }: { env: Environment }) {
  const { t } = useTranslation();
  const graph = env.graph;
  if (!graph || !graph.tasks.length) return null;
  const kind = t(`env.kind.${graph.kind}`);
  // A running task's duration grows with each poll (the page re-renders then).
  const now = Date.now();
  return (
    <section aria-labelledby="env-graph-title" className="card task-graph">
      <h2 id="env-graph-title">{t('env.graphTitle')}</h2>
      <p className="help">{t('env.graphIntro')}</p>
      <div className="graph-wrap">
        <TaskGraphSvg tasks={graph.tasks} title={t('env.svgTitle', { kind, name: env.name })} now={now} testId="environment-graph" />
      </div>
      {env.workflowIds.length > 0 && (
        <p>
          <WorkflowLink workflowId={env.workflowIds[env.workflowIds.length - 1]} what={t('operator.operation')} />
        </p>
      )}
      <TaskTable tasks={graph.tasks} caption={t('env.tableCaption', { kind })} now={now} />
    </section>
  );
}

function MembersTable({ env }: { env: Environment }) {
  const { t } = useTranslation();
  return (
    <section aria-labelledby="members-title" className="card">
      <h2 id="members-title">{t('env.members')}</h2>
      <ScrollBox label={t('env.members')}>
        <table className="env-list" data-testid="environment-members">
          <thead>
            <tr>
              <th scope="col">{t('env.member')}</th>
              <th scope="col">{t('env.vmState')}</th>
              <th scope="col">{t('env.requires')}</th>
              <th scope="col">{t('env.address')}</th>
              <th scope="col">{t('env.error')}</th>
            </tr>
          </thead>
          <tbody>
            {env.members.map((m) => {
              const address = (m.placement?.addresses.find((a) => a.type === 'floating') ?? m.placement?.addresses[0])?.addr;
              return (
                <tr key={m.name} data-member={m.name}>
                  <th scope="row">{m.state === 'deleted' ? m.name : <Link to={`/vms/${m.vmId}`}>{m.name}</Link>}</th>
                  <td>
                    <span className={`state state-${m.state}`}>{t(`vmState.${m.state}`)}</span>
                  </td>
                  <td>{m.requires.length ? m.requires.join(', ') : t('env.nothing')}</td>
                  <td>{address ?? t('env.nothing')}</td>
                  <td className="wrap">{m.lastError ?? ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </ScrollBox>
    </section>
  );
}

const RETRY_CONFLICTS = ['environment_not_partial', 'environment_busy', 'environment_member_deleted'] as const;

/** A `partial` environment (created with "keep"): its failed members created again on the same network. */
function RetryFailedMembers({ env }: { env: Environment }) {
  const { t } = useTranslation();
  const retry = useEnvironmentAction(env.id, () => unwrap(api.POST('/api/v1/environments/{id}/retry', { params: { path: { id: env.id } } })));
  const partial = env.state === 'partial';
  const running = retry.isSuccess && env.state === 'creating';
  if (!partial && !running && !retry.error) return null;
  return (
    <section aria-labelledby="retry-title" className="card">
      <h2 id="retry-title">{t('env.retryTitle')}</h2>
      {partial && (
        <>
          <p>{t('env.retryText')}</p>
          <p>
            <button type="button" className="primary" onClick={() => retry.mutate(undefined)} disabled={retry.isPending}>
              {t('env.retry')}
            </button>
          </p>
        </>
      )}
      <div role="status" aria-live="polite">
        {running && <p className="notice">{t('env.retrying')}</p>}
      </div>
      {retry.error ? <ErrorNotice error={retry.error}>{conflictText(t, retry.error, 'env.retryError', RETRY_CONFLICTS)}</ErrorNotice> : null}
    </section>
  );
}

/** The last destroy stopped at its final backup (nothing was deleted: the environment runs on as it was; it may run again). */
const finalBackupFellShort = (env: Environment) => env.state !== 'destroying' && env.graph?.kind === 'destroy' && env.graph.tasks.some((task) => task.name === FINAL_BACKUP_TASK && task.state === 'failed');

function DestroyEnvironment({ env }: { env: Environment }) {
  const { t } = useTranslation();
  const [typed, setTyped] = useState('');
  const [skipFinal, setSkipFinal] = useState(false);
  const destroy = useEnvironmentAction(env.id, () =>
    unwrap(api.DELETE('/api/v1/environments/{id}', { params: { path: { id: env.id }, query: skipFinal ? { finalBackup: 'false' } : {} } })),
  );
  const stopped = finalBackupFellShort(env);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (typed === env.name) destroy.mutate(undefined);
  };
  return (
    <section className="card danger" aria-labelledby="destroy-title">
      <h2 id="destroy-title">{t('env.destroyTitle')}</h2>
      {stopped && (
        <p className="notice notice-error" data-testid="final-backup-short">
          {t('env.finalBackupShort')}
        </p>
      )}
      <p>{t('env.destroyText')}</p>
      <p>{t('env.destroyFinalText')}</p>
      <form onSubmit={onSubmit} noValidate>
        <label className="check">
          <input type="checkbox" name="skipFinalBackup" checked={skipFinal} onChange={(e) => setSkipFinal(e.target.checked)} />
          {t('env.skipFinalBackup')}
        </label>
        <Field label={t('env.destroyConfirm')} name="confirm-name" autoComplete="off" value={typed} onChange={(e) => setTyped(e.target.value)} />
        <button type="submit" className="danger" disabled={typed !== env.name || destroy.isPending || env.state === 'destroying'}>
          {stopped ? t('env.destroyAgain') : t('env.destroySubmit')}
        </button>
      </form>
      <div role="status" aria-live="polite">
        {((destroy.isSuccess && env.state !== 'failed' && !stopped) || env.state === 'destroying') && <p className="notice">{t('env.destroying')}</p>}
      </div>
      {destroy.error && <ErrorNotice error={destroy.error} />}
    </section>
  );
}

/** Where a restored environment came from: the source environment (linked) and its point's time. */
function RestoredFrom({ from }: { from: NonNullable<Environment['restoredFrom']> }) {
  const { t } = useTranslation();
  const source = useEnvironment(from.environmentId);
  const points = useEnvironmentBackups(from.environmentId);
  const point = points.data?.backups.find((p) => p.id === from.pointId);
  return (
    <>
      <dt>{t('env.restoredFrom')}</dt>
      <dd data-testid="restored-from">
        <Link to={`/environments/${from.environmentId}`}>
          {t('env.restoredFromText', { name: source.data?.name ?? from.environmentId, when: point ? formatDateTime(point.startedAt) : from.pointId })}
        </Link>
      </dd>
    </>
  );
}

export function EnvironmentPage() {
  const { id = '' } = useParams();
  // Keyed by the id: another environment's page (a restored one's source) starts with its forms empty.
  return <EnvironmentView key={id} id={id} />;
}

function EnvironmentView({ id }: { id: string }) {
  const { t } = useTranslation();
  const q = useEnvironment(id);
  if (q.isPending) return <Loading />;
  if (q.error) {
    return (
      <>
        <ErrorNotice error={q.error}>{isApiError(q.error, 404) ? t('app.notFound') : undefined}</ErrorNotice>
        <p>
          <Link to="/environments">{t('env.back')}</Link>
        </p>
      </>
    );
  }
  const env = q.data;
  // Group backups and recovery plans are for OpenStack environments that were made; a destroyed
  // one still lists its restore points (its final one among them) to restore from.
  const protectable = env.cloud === 'openstack' && env.state !== 'destroyed';
  return (
    <>
      <p>
        <Link to="/environments">{t('env.back')}</Link>
      </p>
      <PageTitle title={t('env.title', { name: env.name })}>{t('env.title', { name: env.name })}</PageTitle>
      <OperatorNote />
      <section aria-labelledby="summary-title" className="card">
        <h2 id="summary-title">{t('env.summary')}</h2>
        <dl className="facts">
          <dt>{t('env.state')}</dt>
          <dd>
            <span className={`state state-${env.state}`} data-testid="environment-state">
              {t(`envState.${env.state}`)}
            </span>
          </dd>
          <dt>{t('env.cloud')}</dt>
          <dd>{t(`cloud.${env.cloud}`)}</dd>
          <dt>{t('env.preset')}</dt>
          <dd>{t(`preset.${env.preset ?? 'none'}`)}</dd>
          <dt>{t('env.onFailure')}</dt>
          <dd>{t(`env.${env.onMemberFailure}`)}</dd>
          <dt>{t('env.network')}</dt>
          <dd>{env.network ? env.network.name : env.state === 'destroyed' ? t('env.networkGone') : t('env.noNetwork')}</dd>
          <dt>{t('env.created')}</dt>
          <dd>{formatDateTime(env.createdAt)}</dd>
          {env.restoredFrom && <RestoredFrom from={env.restoredFrom} />}
          {env.failedMembers.length > 0 && (
            <>
              <dt>{t('env.failedMembers')}</dt>
              <dd data-testid="failed-members">{env.failedMembers.join(', ')}</dd>
            </>
          )}
          {env.lastError && (
            <>
              <dt>{t('env.lastError')}</dt>
              <dd className="wrap">{env.lastError}</dd>
            </>
          )}
        </dl>
      </section>
      <RetryFailedMembers env={env} />
      <GraphSection env={env} />
      <MembersTable env={env} />
      {env.cloud === 'openstack' && <EnvironmentBackups env={env} />}
      {protectable && <EnvironmentDr env={env} />}
      {env.state !== 'destroyed' && <DestroyEnvironment env={env} />}
    </>
  );
}
