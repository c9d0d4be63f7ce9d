/**
 * Change a VM (PATCH /api/v1/vms/{id}): size, software, SSH keys, users (added, changed, removed;
 * the list is sent whole), first-boot commands, package update. Only what differs from the VM's
 * requirements is sent; the API's 400 is shown at the field it names, down to one user's field
 * (`users[1].groups[0]` at that user's Groups). A change that replaces the server
 * (OpenStack: new cloud-init user data) is answered 409 `confirmation_required` with its plan in
 * `error.plan`; the page shows that plan — what changes in place, what replaces the server, the
 * data-loss warning, the API's notes — and only a second, explicit click sends the very same body
 * again with `?confirm=replace`. The update then runs like every operation: its steps appear under
 * Progress as the VM page polls.
 */
import { useId, useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, isApiError, unwrap, type Schemas } from '../api/client';
import { useCatalog, useVmAction } from '../api/hooks';
import { ErrorNotice, Field, fieldErrors } from '../components';

type Vm = Schemas['Vm'];
type Catalog = Schemas['Catalog'];
type Patch = Schemas['VmPatch'];
type Plan = Schemas['UpdatePlan'];
type VmUser = NonNullable<Patch['users']>[number];

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
const sameList = (a: readonly string[] | undefined, b: readonly string[]) => JSON.stringify(a ?? []) === JSON.stringify(b);
const sameSet = (a: readonly string[] | undefined, b: readonly string[]) => sameList([...(a ?? [])].sort(), [...b].sort());
const words = (text: string) => text.split(/[\s,]+/).filter(Boolean);

/** A user as the form holds it; `key` stays with the user while others are added or removed. */
interface UserRow {
  key: number;
  name: string;
  groups: string;
  sudo: boolean;
  keys: string;
}
type UserField = 'name' | 'groups' | 'sshPublicKeys';
const rowOf = (u: VmUser, key: number): UserRow => ({ key, name: u.name, groups: (u.groups ?? []).join(', '), sudo: u.sudo ?? false, keys: (u.sshPublicKeys ?? []).join('\n') });
function userOf(r: UserRow): VmUser {
  const groups = words(r.groups);
  const keys = lines(r.keys);
  return { name: r.name.trim(), ...(groups.length ? { groups } : {}), ...(r.sudo ? { sudo: true } : {}), ...(keys.length ? { sshPublicKeys: keys } : {}) };
}
/** Users compared as the VM applies them (no groups = [], no sudo = false). */
const sameUsers = (a: readonly VmUser[] | undefined, b: readonly VmUser[]) => {
  const canon = (us: readonly VmUser[]) => JSON.stringify(us.map((u) => [u.name, u.groups ?? [], u.sudo ?? false, u.sshPublicKeys ?? []]));
  return canon(a ?? []) === canon(b);
};

/**
 * The API's errors about `users`, placed: the list's own (`users`: too many) and each user's by
 * field, keyed by the form's user that was sent at that index (`users[1]`, a duplicate name, and
 * any field not in the form go to the user's name).
 */
function userErrors(err: unknown, sentKeys: readonly number[]): { list?: string; byKey: Map<number, Partial<Record<UserField, string>>> } {
  const byKey = new Map<number, Partial<Record<UserField, string>>>();
  let list: string | undefined;
  if (!isApiError(err)) return { byKey };
  for (const f of err.fields) {
    const m = /^users(?:\[(\d+)\](?:\.(\w+))?)?/.exec(f.field);
    if (!m) continue;
    if (m[1] === undefined) {
      list = list ? `${list} ${f.message}` : f.message;
      continue;
    }
    const key = sentKeys[Number(m[1])];
    if (key === undefined) continue;
    const sub = m[2];
    const field: UserField = sub === 'groups' || sub === 'sshPublicKeys' ? sub : 'name';
    const at = byKey.get(key) ?? {};
    at[field] = at[field] ? `${at[field]} ${f.message}` : f.message;
    byKey.set(key, at);
  }
  return { list, byKey };
}

/** One user's fields, in a group named by its place in the list. */
function UserFields({ user, n, errors, isNew, onChange, onRemove }: { user: UserRow; n: number; errors: Partial<Record<UserField, string>>; isNew: boolean; onChange: (u: UserRow) => void; onRemove: () => void }) {
  const { t } = useTranslation();
  const keysId = useId();
  return (
    <fieldset className="user">
      <legend>{t('update.userLegend', { n })}</legend>
      <Field
        label={t('update.userName')}
        name={`users-${n}-name`}
        value={user.name}
        onChange={(e) => onChange({ ...user, name: e.target.value })}
        help={t('update.userNameHelp')}
        error={errors.name}
        autoComplete="off"
        autoFocus={isNew}
      />
      <Field label={t('update.userGroups')} name={`users-${n}-groups`} value={user.groups} onChange={(e) => onChange({ ...user, groups: e.target.value })} help={t('update.userGroupsHelp')} error={errors.groups} autoComplete="off" />
      <label className="check">
        <input type="checkbox" name={`users-${n}-sudo`} checked={user.sudo} onChange={(e) => onChange({ ...user, sudo: e.target.checked })} />
        {t('update.userSudo')}
      </label>
      <div className="field">
        <label htmlFor={keysId}>{t('update.userKeys')}</label>
        <textarea
          id={keysId}
          name={`users-${n}-sshPublicKeys`}
          rows={2}
          value={user.keys}
          onChange={(e) => onChange({ ...user, keys: e.target.value })}
          aria-invalid={errors.sshPublicKeys ? true : undefined}
          aria-describedby={`${keysId}-help${errors.sshPublicKeys ? ` ${keysId}-error` : ''}`}
        />
        <p className="help" id={`${keysId}-help`}>
          {t('update.userKeysHelp')}
        </p>
        {errors.sshPublicKeys && (
          <p className="field-error" id={`${keysId}-error`}>
            {errors.sshPublicKeys}
          </p>
        )}
      </div>
      <button type="button" onClick={onRemove}>
        {t('update.removeUser', { n })}
      </button>
    </fieldset>
  );
}

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
  const ids = { size: useId(), keys: useId(), runcmd: useId(), users: useId() };
  const req = vm.requirements;
  const [size, setSize] = useState(req.size);
  const [software, setSoftware] = useState<string[]>(req.software ?? []);
  const [keysText, setKeysText] = useState((req.sshPublicKeys ?? []).join('\n'));
  const [runcmdText, setRuncmdText] = useState((req.runcmd ?? []).join('\n'));
  const [packagesUpdate, setPackagesUpdate] = useState(req.packagesUpdate ?? false);
  const nextKey = useRef((req.users ?? []).length);
  const [users, setUsers] = useState<UserRow[]>(() => (req.users ?? []).map(rowOf));
  /** The user just added (its name field takes the focus). */
  const [added, setAdded] = useState<number>();
  /** The form's users in the order the last request sent them: the API's `users[i]` is sentKeys[i]. */
  const [sentKeys, setSentKeys] = useState<number[]>([]);
  const addUserButton = useRef<HTMLButtonElement>(null);
  const [nothing, setNothing] = useState(false);
  /** A change the API said replaces the server: its body and plan, until confirmed or cancelled. */
  const [asking, setAsking] = useState<{ patch: Patch; plan: Plan }>();

  const update = useVmAction(vm.id, ({ patch, confirm }: { patch: Patch; confirm: boolean }) =>
    unwrap(api.PATCH('/api/v1/vms/{id}', { params: { path: { id: vm.id }, ...(confirm ? { query: { confirm: 'replace' as const } } : {}) }, body: patch })),
  );
  const needsConfirmation = isApiError(update.error, 409) && update.error.code === 'confirmation_required';
  const errors = needsConfirmation ? {} : fieldErrors(update.error);
  const usersErrors = userErrors(needsConfirmation ? undefined : update.error, sentKeys);
  const addUser = () => {
    const key = nextKey.current++;
    setUsers((cur) => [...cur, { key, name: '', groups: '', sudo: false, keys: '' }]);
    setAdded(key);
  };
  const removeUser = (key: number) => {
    setUsers((cur) => cur.filter((u) => u.key !== key));
    addUserButton.current?.focus();
  };

  /** Only what differs from the VM's requirements (an unchanged list sent again would still count as a change). */
  function patchOf(): Patch {
    const patch: Patch = {};
    if (size !== req.size) patch.size = size;
    const chosen = catalog.software.map((s) => s.id).filter((id) => software.includes(id));
    if (!sameSet(req.software, chosen)) patch.software = chosen;
    if (!sameList(req.sshPublicKeys, lines(keysText))) patch.sshPublicKeys = lines(keysText);
    const wanted = users.map(userOf);
    if (!sameUsers(req.users, wanted)) patch.users = wanted;
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
    setSentKeys(users.map((u) => u.key));
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
        <fieldset aria-describedby={`${ids.users}-help${usersErrors.list ? ` ${ids.users}-error` : ''}`}>
          <legend>{t('update.users')}</legend>
          <p className="help" id={`${ids.users}-help`}>
            {t('update.usersHelp')}
          </p>
          {users.length === 0 && <p className="muted">{t('update.noUsers')}</p>}
          {users.map((u, i) => (
            <UserFields
              key={u.key}
              user={u}
              n={i + 1}
              errors={usersErrors.byKey.get(u.key) ?? {}}
              isNew={u.key === added}
              onChange={(next) => setUsers((cur) => cur.map((x) => (x.key === u.key ? next : x)))}
              onRemove={() => removeUser(u.key)}
            />
          ))}
          {usersErrors.list && (
            <p className="field-error" id={`${ids.users}-error`}>
              {usersErrors.list}
            </p>
          )}
          <button type="button" ref={addUserButton} onClick={addUser}>
            {t('update.addUser')}
          </button>
        </fieldset>
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
