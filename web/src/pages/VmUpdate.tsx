/**
 * Change a VM (PATCH /api/v1/vms/{id}): size, software, SSH keys, first-boot commands, package
 * update. Only what differs from the VM's requirements is sent. A change that replaces the server
 * (OpenStack: new cloud-init user data) is answered 409 `confirmation_required` with its plan in
 * `error.plan`; the page shows that plan — what changes in place, what replaces the server, the
 * data-loss warning, the API's notes — and only a second, explicit click sends the very same body
 * again with `?confirm=replace`. The update then runs like every operation: its steps appear under
 * Progress as the VM page polls.
 */
import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, isApiError, unwrap, type Schemas } from '../api/client';
import { useCatalog, useVmAction } from '../api/hooks';
import { ErrorNotice, fieldErrors } from '../components';

type Vm = Schemas['Vm'];
type Catalog = Schemas['Catalog'];
type Patch = Schemas['VmPatch'];
type Plan = Schemas['UpdatePlan'];

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
const sameList = (a: readonly string[] | undefined, b: readonly string[]) => JSON.stringify(a ?? []) === JSON.stringify(b);
const sameSet = (a: readonly string[] | undefined, b: readonly string[]) => sameList([...(a ?? [])].sort(), [...b].sort());

/** Whether a software item is offered for the VM's OS. */
function offeredFor(catalog: Catalog, softwareId: string, osId: string): boolean {
  const sw = catalog.software.find((s) => s.id === softwareId);
  const os = catalog.operatingSystems.find((o) => o.id === osId);
  if (!sw || !os) return false;
  const choice = sw.byOs?.[os.id] ?? sw.byFamily[os.family];
  return !('unavailable' in choice);
}

function PlanView({ plan }: { plan: Plan }) {
  const { t } = useTranslation();
  const field = (f: string) => t(`update.field.${f}`, { defaultValue: f });
  return (
    <div className="plan" data-testid="update-plan">
      {plan.inPlace.length > 0 && (
        <>
          <h4>{t('update.inPlace')}</h4>
          <ul>
            {plan.inPlace.map((c) => (
              <li key={c.field}>
                <strong>{field(c.field)}</strong>: {c.effect}
              </li>
            ))}
          </ul>
        </>
      )}
      {plan.replaced.length > 0 && (
        <>
          <h4>{t('update.replaced')}</h4>
          <ul>
            {plan.replaced.map((c) => (
              <li key={c.field}>
                <strong>{field(c.field)}</strong>: {c.effect}
              </li>
            ))}
          </ul>
        </>
      )}
      {plan.notes.length > 0 && (
        <>
          <h4>{t('update.notes')}</h4>
          <ul>
            {plan.notes.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

function UpdateForm({ vm, catalog }: { vm: Vm; catalog: Catalog }) {
  const { t } = useTranslation();
  const ids = { size: useId(), keys: useId(), runcmd: useId() };
  const req = vm.requirements;
  const [size, setSize] = useState(req.size);
  const [software, setSoftware] = useState<string[]>(req.software ?? []);
  const [keysText, setKeysText] = useState((req.sshPublicKeys ?? []).join('\n'));
  const [runcmdText, setRuncmdText] = useState((req.runcmd ?? []).join('\n'));
  const [packagesUpdate, setPackagesUpdate] = useState(req.packagesUpdate ?? false);
  const [nothing, setNothing] = useState(false);
  /** A change the API said replaces the server: its body and plan, until confirmed or cancelled. */
  const [asking, setAsking] = useState<{ patch: Patch; plan: Plan }>();

  const update = useVmAction(vm.id, ({ patch, confirm }: { patch: Patch; confirm: boolean }) =>
    unwrap(api.PATCH('/api/v1/vms/{id}', { params: { path: { id: vm.id }, ...(confirm ? { query: { confirm: 'replace' as const } } : {}) }, body: patch })),
  );
  const needsConfirmation = isApiError(update.error, 409) && update.error.code === 'confirmation_required';
  const errors = needsConfirmation ? {} : fieldErrors(update.error);

  /** Only what differs from the VM's requirements (an unchanged list sent again would still count as a change). */
  function patchOf(): Patch {
    const patch: Patch = {};
    if (size !== req.size) patch.size = size;
    const chosen = catalog.software.map((s) => s.id).filter((id) => software.includes(id));
    if (!sameSet(req.software, chosen)) patch.software = chosen;
    if (!sameList(req.sshPublicKeys, lines(keysText))) patch.sshPublicKeys = lines(keysText);
    if (!sameList(req.runcmd, lines(runcmdText))) patch.runcmd = lines(runcmdText);
    if (packagesUpdate !== (req.packagesUpdate ?? false)) patch.packagesUpdate = packagesUpdate;
    return patch;
  }

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setAsking(undefined);
    const patch = patchOf();
    setNothing(Object.keys(patch).length === 0);
    if (Object.keys(patch).length === 0) return;
    update.mutate(
      { patch, confirm: false },
      {
        onError: (err) => {
          if (isApiError(err, 409) && err.code === 'confirmation_required' && err.plan) setAsking({ patch, plan: err.plan });
        },
      },
    );
  };
  const confirm = () => {
    if (!asking) return;
    // The very body the plan was made for, now with ?confirm=replace.
    update.mutate({ patch: asking.patch, confirm: true }, { onSuccess: () => setAsking(undefined) });
  };

  const was = catalog.sizes.find((s) => s.id === req.size);
  const active = vm.state === 'active';
  return (
    <>
      <form onSubmit={onSubmit} noValidate aria-labelledby="update-title">
        {update.error && !needsConfirmation ? <ErrorNotice error={update.error}>{Object.keys(errors).length ? t('update.fixFields') : undefined}</ErrorNotice> : null}
        <div className="field">
          <label htmlFor={ids.size}>{t('update.size')}</label>
          <select
            id={ids.size}
            name="size"
            value={size}
            onChange={(e) => setSize(e.target.value)}
            aria-invalid={errors.size ? true : undefined}
            aria-describedby={errors.size ? `${ids.size}-error` : undefined}
          >
            {catalog.sizes.map((s) => {
              const shrinks = !!was && s.diskGiB < was.diskGiB;
              return (
                <option key={s.id} value={s.id} disabled={shrinks}>
                  {shrinks ? t('update.sizeShrinks', { name: s.displayName }) : s.displayName}
                </option>
              );
            })}
          </select>
          {errors.size && (
            <p className="field-error" id={`${ids.size}-error`}>
              {errors.size}
            </p>
          )}
        </div>
        <fieldset aria-describedby={errors.software ? 'update-software-error' : undefined}>
          <legend>{t('update.software')}</legend>
          {catalog.software
            .filter((s) => offeredFor(catalog, s.id, req.os))
            .map((s) => (
              <label key={s.id} className="check">
                <input
                  type="checkbox"
                  name="update-software"
                  value={s.id}
                  checked={software.includes(s.id)}
                  onChange={(e) => setSoftware((cur) => (e.target.checked ? [...cur, s.id] : cur.filter((x) => x !== s.id)))}
                />
                {s.displayName}
              </label>
            ))}
          {errors.software && (
            <p className="field-error" id="update-software-error">
              {errors.software}
            </p>
          )}
        </fieldset>
        <div className="field">
          <label htmlFor={ids.keys}>{t('update.sshKeys')}</label>
          <textarea
            id={ids.keys}
            name="sshPublicKeys"
            rows={3}
            value={keysText}
            onChange={(e) => setKeysText(e.target.value)}
            aria-invalid={errors.sshPublicKeys ? true : undefined}
            aria-describedby={`${ids.keys}-help${errors.sshPublicKeys ? ` ${ids.keys}-error` : ''}`}
          />
          <p className="help" id={`${ids.keys}-help`}>
            {t('update.sshKeysHelp')}
          </p>
          {errors.sshPublicKeys && (
            <p className="field-error" id={`${ids.keys}-error`}>
              {errors.sshPublicKeys}
            </p>
          )}
        </div>
        <div className="field">
          <label htmlFor={ids.runcmd}>{t('update.runcmd')}</label>
          <textarea
            id={ids.runcmd}
            name="runcmd"
            rows={3}
            value={runcmdText}
            onChange={(e) => setRuncmdText(e.target.value)}
            aria-invalid={errors.runcmd ? true : undefined}
            aria-describedby={`${ids.runcmd}-help${errors.runcmd ? ` ${ids.runcmd}-error` : ''}`}
          />
          <p className="help" id={`${ids.runcmd}-help`}>
            {t('update.runcmdHelp')}
          </p>
          {errors.runcmd && (
            <p className="field-error" id={`${ids.runcmd}-error`}>
              {errors.runcmd}
            </p>
          )}
        </div>
        <label className="check">
          <input type="checkbox" name="packagesUpdate" checked={packagesUpdate} onChange={(e) => setPackagesUpdate(e.target.checked)} />
          {t('update.packagesUpdate')}
        </label>
        <div className="actions">
          <button type="submit" disabled={!active || update.isPending || !!asking}>
            {update.isPending && !asking ? t('update.submitting') : t('update.submit')}
          </button>
        </div>
      </form>
      <div role="status" aria-live="polite">
        {nothing && <p className="notice">{t('update.nothing')}</p>}
        {update.isSuccess && (
          <div className="notice">
            <p>{t('update.started')}</p>
            {update.data.plan && <PlanView plan={update.data.plan} />}
          </div>
        )}
      </div>
      {asking && (
        <div className="confirm-box" role="group" aria-labelledby="plan-title">
          <h3 id="plan-title">{t('update.planTitle')}</h3>
          <PlanView plan={asking.plan} />
          <p className="field-error" role="alert">
            {t('update.dataLoss')}
          </p>
          <div className="actions">
            <button type="button" className="danger" onClick={confirm} disabled={update.isPending}>
              {t('update.confirmReplace')}
            </button>
            <button type="button" onClick={() => setAsking(undefined)} disabled={update.isPending}>
              {t('update.cancel')}
            </button>
          </div>
        </div>
      )}
    </>
  );
}

export function UpdateSection({ vm }: { vm: Vm }) {
  const { t } = useTranslation();
  const catalog = useCatalog();
  return (
    <section aria-labelledby="update-title" className="card">
      <h2 id="update-title">{t('update.title')}</h2>
      <p className="help">{t('update.intro')}</p>
      <ErrorNotice error={catalog.error} />
      {catalog.data && <UpdateForm vm={vm} catalog={catalog.data} />}
    </section>
  );
}
