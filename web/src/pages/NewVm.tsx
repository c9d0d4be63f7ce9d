/**
 * New VM: the requirements form built from the catalog (GET /api/v1/catalog) — OS, the software
 * offered for that OS, size, cloud — and the backup policy; beside it the live template preview
 * (POST /api/v1/templates, the Heat HOT as YAML). The API's 400 field errors appear at their fields.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { api, unwrap, type Schemas } from '../api/client';
import { keys, useCatalog } from '../api/hooks';
import { ErrorNotice, Field, fieldErrors, Loading, PageTitle } from '../components';

type Catalog = Schemas['Catalog'];
type Cloud = 'openstack' | 'cloudstack';
const INTERVALS = [
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

function Select(props: { label: string; value: string; onChange: (v: string) => void; error?: string; children: React.ReactNode; name: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <select id={id} name={props.name} value={props.value} onChange={(e) => props.onChange(e.target.value)} aria-invalid={props.error ? true : undefined} aria-describedby={props.error ? `${id}-error` : undefined}>
        {props.children}
      </select>
      {props.error && (
        <p className="field-error" id={`${id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
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
          },
        }),
      ),
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
        <fieldset>
          <legend>{t('newVm.cloud')}</legend>
          {(['openstack', 'cloudstack'] as const).map((c) => (
            <label key={c} className="check">
              <input type="radio" name="cloud" value={c} checked={cloud === c} onChange={() => setCloud(c)} />
              {t(`cloud.${c}`)}
            </label>
          ))}
          {errors.cloud && <p className="field-error">{errors.cloud}</p>}
        </fieldset>
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
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? t('newVm.submitting') : t('newVm.submit')}
        </button>
      </form>
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
