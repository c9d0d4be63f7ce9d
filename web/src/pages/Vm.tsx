/**
 * One VM: its state and placement, the running operation's steps advancing (polling with
 * back-off, read from the operation records — no workflow query), the state history, the
 * backups table with each backup's task graph drawn (VmTaskGraph.tsx), the DR panel (VmDr.tsx:
 * the state machine drawn, events with RPO/RTO, guest health check, drill reports), the update
 * form with the replace-plan confirmation (VmUpdate.tsx), and the actions: back up now,
 * protect/unprotect, fail over, fail back, approve failback, drill, and delete (the name typed to
 * confirm). Operators also see links into the Temporal Web UI (OperatorLinks.tsx).
 */
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { api, isApiError, unwrap, type Schemas } from '../api/client';
import { useBackups, useDr, useVm, useVmAction } from '../api/hooks';
import { ErrorNotice, Field, Loading, PageTitle } from '../components';
import { formatDateTime } from '../i18n';
import { OperatorNote, WorkflowLink } from './OperatorLinks';
import { address } from './Vms';
import { DrPanel } from './VmDr';
import { TaskGraphSection } from './VmTaskGraph';
import { UpdateSection } from './VmUpdate';

type Progress = Schemas['WorkflowProgress'];

function Steps({ progress }: { progress: Progress }) {
  const { t } = useTranslation();
  const running = progress.status === 'running' || progress.status === 'compensating';
  return (
    <ol className="steps" aria-label={t('vm.progress')}>
      {progress.steps.map((step) => {
        const done = progress.stepsDone.includes(step);
        const now = !done && running && progress.step === step;
        const label = done ? t('vm.stepDone') : now ? t('vm.stepNow') : t('vm.stepTodo');
        return (
          <li key={step} className={done ? 'done' : now ? 'now' : 'todo'} aria-current={now ? 'step' : undefined}>
            <span className="step-name">{step}</span> <span className="step-state">({label})</span>
          </li>
        );
      })}
    </ol>
  );
}

/** Restore from one backup, in two steps: the button asks, a second button confirms. */
function RestoreButton({ vmId, backupId, disabled }: { vmId: string; backupId: string; disabled: boolean }) {
  const { t } = useTranslation();
  const [asking, setAsking] = useState(false);
  const restore = useVmAction(vmId, () => unwrap(api.POST('/api/v1/vms/{id}/restore', { params: { path: { id: vmId } }, body: { backupId } })));
  if (restore.isSuccess) return <p role="status">{t('vm.restoreStarted')}</p>;
  return (
    <>
      {!asking ? (
        <button type="button" onClick={() => setAsking(true)} disabled={disabled}>
          {t('vm.restore')}
        </button>
      ) : (
        <div className="actions" role="group" aria-label={t('vm.restoreConfirmText')}>
          <span>{t('vm.restoreConfirmText')}</span>
          <button type="button" className="danger" onClick={() => restore.mutate(undefined)} disabled={restore.isPending}>
            {t('vm.restoreConfirm')}
          </button>
          <button type="button" onClick={() => setAsking(false)}>
            {t('vm.restoreCancel')}
          </button>
        </div>
      )}
      {restore.error && <ErrorNotice error={restore.error} />}
    </>
  );
}

function BackupsTable({ vmId, vmActive }: { vmId: string; vmActive: boolean }) {
  const { t } = useTranslation();
  const backups = useBackups(vmId);
  if (backups.isPending) return <Loading />;
  if (backups.error) return <ErrorNotice error={backups.error} />;
  if (!backups.data.backups.length) return <p className="muted">{t('vm.noBackups')}</p>;
  return (
    <>
      <div className="table-wrap">
        <table aria-labelledby="backups-title">
          <thead>
            <tr>
              <th scope="col">{t('vm.backupStarted')}</th>
              <th scope="col">{t('vm.backupFinished')}</th>
              <th scope="col">{t('vm.backupStatus')}</th>
              <th scope="col">{t('vm.backupTrigger')}</th>
              <th scope="col">{t('vm.backupTasks')}</th>
              <th scope="col">
                <span className="visually-hidden">{t('vm.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {backups.data.backups.map((b) => (
              <tr key={b.id}>
                <td>{formatDateTime(b.startedAt)}</td>
                <td>{formatDateTime(b.finishedAt)}</td>
                <td>
                  <span className={`state state-${b.status}`}>{t(`backupStatus.${b.status}`)}</span>
                </td>
                <td>{t(`trigger.${b.trigger}`)}</td>
                <td>
                  <ul className="tasks">
                    {b.tasks.map((task) => (
                      <li key={task.name} className={`state-${task.state}`}>
                        {task.name}: {t(`backupStatus.${task.state === 'pending' ? 'running' : task.state}`)}
                        {task.requires.length > 0 && <span className="muted"> {t('vm.taskAfter', { tasks: task.requires.join(', ') })}</span>}
                      </li>
                    ))}
                  </ul>
                </td>
                <td>{b.image && !b.retiredAt && b.status === 'succeeded' && <RestoreButton vmId={vmId} backupId={b.id} disabled={!vmActive} />}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <TaskGraphSection backups={backups.data.backups} />
    </>
  );
}

type Action = 'backupNow' | 'protect' | 'unprotect' | 'failoverBase' | 'failoverBackup' | 'failback' | 'approve' | 'drill';

/** `onDrill`: a drill was accepted (its workflow id), so the DR panel can say it runs until its report arrives. */
function Actions({ vm, onDrill }: { vm: Schemas['Vm']; onDrill: (workflowId: string) => void }) {
  const { t } = useTranslation();
  const dr = useDr(vm.id);
  const [last, setLast] = useState<Action>();
  const path = { params: { path: { id: vm.id } } };
  const run = useVmAction(vm.id, async (action: Action) => {
    setLast(action);
    switch (action) {
      case 'backupNow':
        return unwrap(api.POST('/api/v1/vms/{id}/backups', path));
      case 'protect':
        return unwrap(api.PUT('/api/v1/vms/{id}/dr', { ...path, body: { failbackMode: 'automatic' } }));
      case 'unprotect':
        return unwrap(api.DELETE('/api/v1/vms/{id}/dr', path));
      case 'failoverBase':
        return unwrap(api.POST('/api/v1/vms/{id}/dr/failover', { ...path, body: { target: 'base-standby', reason: 'by hand from the console' } }));
      case 'failoverBackup':
        return unwrap(api.POST('/api/v1/vms/{id}/dr/failover', { ...path, body: { target: 'backup-cloud', reason: 'by hand from the console' } }));
      case 'failback':
        return unwrap(api.POST('/api/v1/vms/{id}/dr/failback', path));
      case 'approve':
        return unwrap(api.POST('/api/v1/vms/{id}/dr/approve', path));
      case 'drill':
        return unwrap(api.POST('/api/v1/vms/{id}/dr/drill', { ...path, body: { target: 'backup-cloud' } }));
    }
  });
  const active = vm.state === 'active';
  const isProtected = !!dr.data?.protected;
  const drState = dr.data?.state?.state;
  const buttons: Array<{ action: Action; show: boolean }> = [
    { action: 'backupNow', show: active },
    { action: 'protect', show: active && !isProtected },
    { action: 'unprotect', show: isProtected },
    { action: 'failoverBase', show: isProtected && (drState === 'Protected' || drState === 'Degraded') },
    { action: 'failoverBackup', show: isProtected && (drState === 'Protected' || drState === 'Degraded') },
    { action: 'failback', show: isProtected && drState === 'FailedOver' },
    { action: 'approve', show: isProtected && !!dr.data?.state?.awaitingApproval },
    { action: 'drill', show: isProtected },
  ];
  const label = (a: Action) => t(`vm.${a}`);
  return (
    <>
      <div className="actions">
        {buttons
          .filter((b) => b.show)
          .map((b) => (
            <button
              key={b.action}
              type="button"
              onClick={() => run.mutate(b.action, { onSuccess: (r) => b.action === 'drill' && onDrill((r as Schemas['DrillAccepted']).workflowId) })}
              disabled={run.isPending}
            >
              {label(b.action)}
            </button>
          ))}
      </div>
      <div role="status" aria-live="polite">
        {run.isSuccess && last && <p className="notice">{t('vm.accepted', { action: label(last) })}</p>}
      </div>
      {run.error && <ErrorNotice error={run.error} />}
    </>
  );
}

function DeleteVm({ vm }: { vm: Schemas['Vm'] }) {
  const { t } = useTranslation();
  const [typed, setTyped] = useState('');
  const del = useVmAction(vm.id, () => unwrap(api.DELETE('/api/v1/vms/{id}', { params: { path: { id: vm.id } } })));
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (typed === vm.name) del.mutate(undefined);
  };
  return (
    <section className="card danger" aria-labelledby="delete-title">
      <h2 id="delete-title">{t('vm.deleteTitle')}</h2>
      <p>{t('vm.deleteText')}</p>
      <form onSubmit={onSubmit} noValidate>
        <Field label={t('vm.deleteConfirm')} name="confirm-name" autoComplete="off" value={typed} onChange={(e) => setTyped(e.target.value)} />
        <button type="submit" className="danger" disabled={typed !== vm.name || del.isPending}>
          {t('vm.deleteSubmit')}
        </button>
      </form>
      <div role="status" aria-live="polite">
        {del.isSuccess && <p className="notice">{t('vm.deleting')}</p>}
      </div>
      {del.error && <ErrorNotice error={del.error} />}
    </section>
  );
}

export function VmPage() {
  const { t } = useTranslation();
  const { id = '' } = useParams();
  const q = useVm(id);
  /** The workflow id of a drill started from this page, until its report is listed. */
  const [drillRunning, setDrillRunning] = useState<string>();
  if (q.isPending) return <Loading />;
  if (q.error) {
    return (
      <>
        <ErrorNotice error={q.error}>{isApiError(q.error, 404) ? t('app.notFound') : undefined}</ErrorNotice>
        <p>
          <Link to="/">{t('vm.back')}</Link>
        </p>
      </>
    );
  }
  const { vm, operation } = q.data;
  const progress = operation?.progress;
  const gone = vm.state === 'deleted' || vm.state === 'deleting';
  return (
    <>
      <p>
        <Link to="/">{t('vm.back')}</Link>
      </p>
      <PageTitle title={t('vm.title', { name: vm.name })}>{t('vm.title', { name: vm.name })}</PageTitle>
      <OperatorNote />
      <section aria-labelledby="summary-title" className="card">
        <h2 id="summary-title">{t('vm.summary')}</h2>
        <dl className="facts">
          <dt>{t('vm.state')}</dt>
          <dd>
            <span className={`state state-${vm.state}`} data-testid="vm-state">
              {t(`vmState.${vm.state}`)}
            </span>
          </dd>
          <dt>{t('vm.cloud')}</dt>
          <dd>{t(`cloud.${vm.placement?.cloud ?? vm.cloud}`)}</dd>
          <dt>{t('vm.address')}</dt>
          <dd>{address(vm) ?? '—'}</dd>
          <dt>{t('vm.server')}</dt>
          <dd>{vm.placement ? `${vm.placement.serverId} (${vm.placement.status})` : '—'}</dd>
          <dt>{t('vm.os')}</dt>
          <dd>{vm.requirements.os}</dd>
          <dt>{t('vm.size')}</dt>
          <dd data-testid="vm-size">{vm.requirements.size}</dd>
          <dt>{t('vm.software')}</dt>
          <dd data-testid="vm-software">{vm.requirements.software?.length ? vm.requirements.software.join(', ') : t('vm.noSoftware')}</dd>
          <dt>{t('vm.users')}</dt>
          <dd data-testid="vm-users">{vm.requirements.users?.length ? vm.requirements.users.map((u) => (u.sudo ? `${u.name} (sudo)` : u.name)).join(', ') : t('vm.noUsers')}</dd>
          <dt>{t('vm.created')}</dt>
          <dd>{formatDateTime(vm.createdAt)}</dd>
          {vm.lastError && (
            <>
              <dt>{t('vm.lastError')}</dt>
              <dd>{vm.lastError}</dd>
            </>
          )}
        </dl>
        {operation && (
          <p>
            <WorkflowLink workflowId={operation.workflowId} what={t('operator.operation')} />
          </p>
        )}
      </section>
      {progress && (
        <section aria-labelledby="progress-title" className="card">
          <h2 id="progress-title">{t('vm.progress')}</h2>
          <p>{t('vm.operation', { kind: progress.kind, status: progress.status })}</p>
          <Steps progress={progress} />
          {progress.lastError && <p className="field-error">{progress.lastError}</p>}
        </section>
      )}
      {!gone && (
        <section aria-labelledby="actions-title" className="card">
          <h2 id="actions-title">{t('vm.actions')}</h2>
          <Actions vm={vm} onDrill={setDrillRunning} />
        </section>
      )}
      {!gone && <UpdateSection vm={vm} />}
      {vm.state !== 'deleted' && (
        <section aria-labelledby="backups-title" className="card">
          <h2 id="backups-title">{t('vm.backups')}</h2>
          <BackupsTable vmId={vm.id} vmActive={vm.state === 'active'} />
        </section>
      )}
      {vm.state !== 'deleted' && (
        <section aria-labelledby="dr-title" className="card">
          <h2 id="dr-title">{t('vm.dr')}</h2>
          <DrPanel vmId={vm.id} drillRunning={drillRunning} />
        </section>
      )}
      <section aria-labelledby="history-title" className="card">
        <h2 id="history-title">{t('vm.history')}</h2>
        <ol className="timeline">
          {vm.history.map((h, i) => (
            <li key={i}>
              <time dateTime={h.at}>{formatDateTime(h.at)}</time> — {h.from ? `${t(`vmState.${h.from}`)} → ` : ''}
              {t(`vmState.${h.to}`)}: {h.reason}
            </li>
          ))}
        </ol>
      </section>
      {!gone && <DeleteVm vm={vm} />}
    </>
  );
}
