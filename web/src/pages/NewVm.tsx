/**
 * New VM: the requirements form built from the catalog (GET /api/v1/catalog) — OS, the software
 * offered for that OS, size, cloud — the backup policy, DR on or off and an optional guest health
 * check; beside it the live template preview (POST /api/v1/templates, the Heat HOT as YAML) and the
 * chosen cloud's remaining quota (GET /api/v1/quotas). The API's 400 field errors appear at their
 * fields, and a create the cloud's quota cannot hold (409 cloud_quota_exceeded) at the cloud.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, useEffect, useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { api, unwrap, type Schemas } from '../api/client';
import { keys, useCatalog, useQuotas } from '../api/hooks';
import { ChoiceGroup, ErrorNotice, Field, fieldErrors, Loading, PageTitle, Select } from '../components';

type Catalog = Schemas['Catalog'];
export const CLOUDS = ['openstack', 'cloudstack'] as const;
export type Cloud = (typeof CLOUDS)[number];
type Protocol = 'tcp' | 'http' | 'https';
type FailbackMode = 'automatic' | 'approval';
/** The backup intervals a form offers (the New VM form, an environment’s group policy). */
export const INTERVALS = [
  { seconds: 3600, key: 'newVm.every1h' },
  { seconds: 21600, key: 'newVm.every6h' },
  { seconds: 86400, key: 'newVm.every24h' },
] as const;

/** Why a software item is not offered for an OS, or undefined when it is. */
function unavailableFor(catalog: Catalog, softwareId: string, osId: string): string | undefined {
  const sw = catalog.software.find((s) => s.id === softwareId);
  const os = catalog.operatingSystems.find((o) => o.id === osId);
  if (!sw || !os) return undefined;
  const choice = sw.byOs?.[os.id] ?? sw.byFamily[os.family];
  return 'unavailable' in choice ? choice.unavailable : undefined;
}

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setV(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return v;
}

function VmForm({ catalog }: { catalog: Catalog }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [os, setOs] = useState(catalog.operatingSystems[0].id);
  const [software, setSoftware] = useState<string[]>([]);
  const [size, setSize] = useState(catalog.sizes[0].id);
  const [cloud, setCloud] = useState<Cloud>('openstack');
  const [backupOn, setBackupOn] = useState(false);
  const [interval, setIntervalSeconds] = useState<number>(86400);
  const [retention, setRetention] = useState('3');
  const [drOn, setDrOn] = useState(false);
  const [failbackMode, setFailbackMode] = useState<FailbackMode>('automatic');
  const [healthOn, setHealthOn] = useState(false);
  const [protocol, setProtocol] = useState<Protocol>('http');
  const [port, setPort] = useState('80');
  const [path, setPath] = useState('/');
  // One key per form: a double submit or a retried request starts one VM (Idempotency-Key).
  const [idempotencyKey] = useState(() => crypto.randomUUID());

  const offered = software.filter((s) => !unavailableFor(catalog, s, os));
  const requirements = { name, os, software: offered, size, cloud };
  // Debounced by value (a string), so a render with equal choices does not restart the wait.
  const previewKey = useDebounced(JSON.stringify(requirements), 400);
  const previewInput = useMemo(() => JSON.parse(previewKey) as typeof requirements, [previewKey]);
  const preview = useQuery({
    queryKey: ['template-preview', previewInput],
    queryFn: () => unwrap(api.POST('/api/v1/templates', { body: previewInput })),
    enabled: /^[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?$/.test(previewInput.name),
    retry: false,
  });

  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/v1/vms', {
          params: { header: { 'Idempotency-Key': idempotencyKey } },
          body: {
            ...requirements,
            ...(backupOn && cloud === 'openstack' ? { backup: { intervalSeconds: interval, retention: Number(retention) } } : {}),
            ...(drOn && cloud === 'openstack' ? { dr: { failbackMode } } : {}),
            // The port as typed: a field that is not a port comes back as the API's 400 at the field.
            ...(healthOn && cloud === 'openstack' ? { healthCheck: { protocol, port: port.trim() === '' ? Number.NaN : Number(port), ...(protocol !== 'tcp' ? { path } : {}) } } : {}),
          },
        }),
      ),
    onError: async () => {
      // A refusal by the cloud's quota: show the room as it is now.
      await qc.invalidateQueries({ queryKey: keys.quotas });
    },
    onSuccess: async (accepted) => {
      await qc.invalidateQueries({ queryKey: keys.vms });
      await navigate(`/vms/${accepted.vm.id}`, { state: { created: true } });
    },
  });
  const errors = fieldErrors(create.error);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const toggle = (id: string, on: boolean) => setSoftware((s) => (on ? [...s, id] : s.filter((x) => x !== id)));

  return (
    <div className="split">
      <form onSubmit={onSubmit} noValidate className="card">
        {create.error ? <ErrorNotice error={create.error}>{Object.keys(errors).length ? t('newVm.fixFields') : undefined}</ErrorNotice> : null}
        <Field label={t('newVm.name')} name="name" required value={name} onChange={(e) => setName(e.target.value)} help={t('newVm.nameHelp')} error={errors.name} autoComplete="off" />
        <Select label={t('newVm.os')} name="os" value={os} onChange={setOs} error={errors.os}>
          {catalog.operatingSystems.map((o) => (
            <option key={o.id} value={o.id}>
              {o.displayName}
            </option>
          ))}
        </Select>
        <fieldset aria-describedby={errors.software ? 'software-error' : undefined}>
          <legend>{t('newVm.software')}</legend>
          {catalog.software.map((s) => {
            const why = unavailableFor(catalog, s.id, os);
            return (
              <label key={s.id} className="check" title={why}>
                <input type="checkbox" name="software" value={s.id} checked={!why && software.includes(s.id)} disabled={!!why} onChange={(e) => toggle(s.id, e.target.checked)} />
                {why ? t('newVm.unavailable', { name: s.displayName }) : s.displayName}
              </label>
            );
          })}
          {errors.software && (
            <p className="field-error" id="software-error">
              {errors.software}
            </p>
          )}
        </fieldset>
        <Select label={t('newVm.size')} name="size" value={size} onChange={setSize} error={errors.size}>
          {catalog.sizes.map((s) => (
            <option key={s.id} value={s.id}>
              {s.displayName}
            </option>
          ))}
        </Select>
        <ChoiceGroup legend={t('newVm.cloud')} name="cloud" value={cloud} onChange={setCloud} error={errors.cloud} options={CLOUDS.map((c) => ({ value: c, label: t(`cloud.${c}`) }))} />
        <fieldset>
          <legend>{t('newVm.backupTitle')}</legend>
          <label className="check">
            <input type="checkbox" name="backupOn" checked={backupOn && cloud === 'openstack'} disabled={cloud !== 'openstack'} onChange={(e) => setBackupOn(e.target.checked)} />
            {t('newVm.backupOn')}
          </label>
          <p className="help">{t('newVm.backupOnlyOpenstack')}</p>
          {backupOn && cloud === 'openstack' && (
            <>
              <Select label={t('newVm.interval')} name="interval" value={String(interval)} onChange={(v) => setIntervalSeconds(Number(v))}>
                {INTERVALS.map((i) => (
                  <option key={i.seconds} value={i.seconds}>
                    {t(i.key)}
                  </option>
                ))}
              </Select>
              <Field label={t('newVm.retention')} name="retention" type="number" min={1} max={100} value={retention} onChange={(e) => setRetention(e.target.value)} />
            </>
          )}
          {errors.backup && <p className="field-error">{errors.backup}</p>}
        </fieldset>
        {cloud === 'openstack' && (
          <fieldset>
            <legend>{t('newVm.drTitle')}</legend>
            <label className="check">
              <input type="checkbox" name="drOn" checked={drOn} onChange={(e) => setDrOn(e.target.checked)} aria-describedby="dr-help" />
              {t('newVm.drOn')}
            </label>
            <p className="help" id="dr-help">
              {t('newVm.drHelp')}
            </p>
            {drOn && (
              <Select label={t('newVm.failbackMode')} name="failbackMode" value={failbackMode} onChange={(v) => setFailbackMode(v as FailbackMode)} error={errors['dr.failbackMode']}>
                <option value="automatic">{t('newVm.failbackAutomatic')}</option>
                <option value="approval">{t('newVm.failbackApproval')}</option>
              </Select>
            )}
            {errors.dr && <p className="field-error">{errors.dr}</p>}
          </fieldset>
        )}
        {cloud === 'openstack' && (
          <fieldset>
            <legend>{t('newVm.healthTitle')}</legend>
            <label className="check">
              <input type="checkbox" name="healthOn" checked={healthOn} onChange={(e) => setHealthOn(e.target.checked)} aria-describedby="health-help" />
              {t('newVm.healthOn')}
            </label>
            <p className="help" id="health-help">
              {t('newVm.healthHelp')}
            </p>
            {healthOn && (
              <>
                <Select label={t('newVm.protocol')} name="protocol" value={protocol} onChange={(v) => setProtocol(v as Protocol)} error={errors['healthCheck.protocol']}>
                  <option value="tcp">TCP</option>
                  <option value="http">HTTP</option>
                  <option value="https">HTTPS</option>
                </Select>
                <Field label={t('newVm.port')} name="port" inputMode="numeric" value={port} onChange={(e) => setPort(e.target.value)} error={errors['healthCheck.port']} autoComplete="off" />
                {protocol !== 'tcp' && <Field label={t('newVm.path')} name="path" value={path} onChange={(e) => setPath(e.target.value)} help={t('newVm.pathHelp')} error={errors['healthCheck.path']} autoComplete="off" />}
              </>
            )}
            {errors.healthCheck && <p className="field-error">{errors.healthCheck}</p>}
          </fieldset>
        )}
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? t('newVm.submitting') : t('newVm.submit')}
        </button>
      </form>
      <div className="side">
      <QuotaPanel cloud={cloud} />
      <section className="card preview" aria-labelledby="preview-title">
        <h2 id="preview-title">{t('newVm.preview')}</h2>
        <p className="help">{t('newVm.previewHelp')}</p>
        {preview.data ? (
          <pre tabIndex={0} aria-label={t('newVm.preview')}>{cloud === 'openstack' ? preview.data.heat.yaml : preview.data.cloudConfig}</pre>
        ) : preview.error ? (
          <p className="muted">{(preview.error as Error).message}</p>
        ) : (
          <p className="muted">{t('newVm.previewEmpty')}</p>
        )}
      </section>
      </div>
    </div>
  );
}

/** The chosen cloud's remaining quota: instances, cores and RAM in use and allowed. */
function QuotaPanel({ cloud }: { cloud: Cloud }) {
  const { t } = useTranslation();
  const quotas = useQuotas();
  const q = quotas.data?.clouds.find((c) => c.cloud === cloud);
  const line = (label: string, u: Schemas['CloudUsage']) => (
    <Fragment key={label}>
      <dt>{label}</dt>
      <dd>{u.max === null ? t('newVm.quotaNoLimit', { used: u.used }) : t('newVm.quotaUsed', { used: u.used, max: u.max })}</dd>
    </Fragment>
  );
  return (
    <section className="card" aria-labelledby="quota-title">
      <h2 id="quota-title">
        {t('newVm.quotaTitle')}: {t(`cloud.${cloud}`)}
      </h2>
      {quotas.isPending ? (
        <Loading />
      ) : q && 'instances' in q ? (
        <dl className="facts">
          {line(t('newVm.quotaInstances'), q.instances)}
          {line(t('newVm.quotaCores'), q.cores)}
          {line(t('newVm.quotaRam'), q.ramMiB)}
        </dl>
      ) : (
        <p className="muted">{t('newVm.quotaUnknown')}</p>
      )}
      <p className="help">{t('newVm.quotaStandbys')}</p>
    </section>
  );
}

export function NewVmPage() {
  const { t } = useTranslation();
  const catalog = useCatalog();
  return (
    <>
      <PageTitle title={t('newVm.title')}>{t('newVm.title')}</PageTitle>
      <p>{t('newVm.intro')}</p>
      {catalog.isPending && <Loading />}
      <ErrorNotice error={catalog.error} />
      {catalog.data && <VmForm catalog={catalog.data} />}
    </>
  );
}
