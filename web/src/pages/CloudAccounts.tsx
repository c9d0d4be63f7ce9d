/**
 * Cloud accounts: the operator's and the member's own; add (OpenStack or CloudStack), verify,
 * remove. The API answers only the names of stored secrets, never their values; the form's
 * secret inputs are cleared once the account is added.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { keys, useCloudAccounts } from '../api/hooks';
import { ErrorNotice, Field, fieldErrors, Loading, PageTitle } from '../components';

type Account = Schemas['CloudAccount'];

function AccountRow({ account }: { account: Account }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [message, setMessage] = useState<string>();
  const verify = useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/cloud-accounts/{id}/verify', { params: { path: { id: account.id } } })),
    onSuccess: () => setMessage(t('accounts.verified', { name: account.name })),
    onError: (err) => setMessage(t('accounts.verifyFailed', { name: account.name, message: (err as Error).message })),
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/v1/cloud-accounts/{id}', { params: { path: { id: account.id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.accounts }),
  });
  const endpoint = account.openstack?.authUrl ?? account.cloudstack?.apiUrl ?? '—';
  return (
    <tr>
      <th scope="row">{account.name}</th>
      <td>{t(`cloud.${account.kind}`)}</td>
      <td>{account.scope === 'operator' ? t('accounts.scopeOperator') : t('accounts.scopeOwn')}</td>
      <td className="wrap">{endpoint}</td>
      <td>{account.secrets.join(', ')}</td>
      <td>
        <div className="actions">
          <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending} aria-label={`${t('accounts.verify')}: ${account.name}`}>
            {t('accounts.verify')}
          </button>
          {account.scope === 'own' && (
            <button type="button" className="danger" onClick={() => remove.mutate()} disabled={remove.isPending} aria-label={`${t('accounts.remove')}: ${account.name}`}>
              {t('accounts.remove')}
            </button>
          )}
        </div>
        <div role="status" aria-live="polite">
          {message}
        </div>
        {remove.error && <ErrorNotice error={remove.error} />}
      </td>
    </tr>
  );
}

function AddAccount() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [kind, setKind] = useState<'openstack' | 'cloudstack'>('openstack');
  const [f, setF] = useState<Record<string, string>>({});
  const set = (k: string) => (e: React.ChangeEvent<HTMLInputElement>) => setF((o) => ({ ...o, [k]: e.target.value }));
  const add = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/v1/cloud-accounts', {
          body:
            kind === 'openstack'
              ? { kind, name: f.name ?? '', authUrl: f.authUrl ?? '', projectName: f.projectName ?? '', username: f.username ?? '', password: f.password ?? '' }
              : { kind, name: f.name ?? '', apiUrl: f.apiUrl ?? '', apiKey: f.apiKey ?? '', secretKey: f.secretKey ?? '' },
        }),
      ),
    onSuccess: async () => {
      setF({});
      await qc.invalidateQueries({ queryKey: keys.accounts });
    },
  });
  const errors = fieldErrors(add.error);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };
  return (
    <section className="card narrow" aria-labelledby="add-title">
      <h2 id="add-title">{t('accounts.addTitle')}</h2>
      <form onSubmit={onSubmit} noValidate>
        <fieldset>
          <legend>{t('accounts.kind')}</legend>
          {(['openstack', 'cloudstack'] as const).map((k) => (
            <label key={k} className="check">
              <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
              {t(`cloud.${k}`)}
            </label>
          ))}
        </fieldset>
        <Field label={t('accounts.name')} name="name" value={f.name ?? ''} onChange={set('name')} error={errors.name} autoComplete="off" />
        {kind === 'openstack' ? (
          <>
            <Field label={t('accounts.authUrl')} name="authUrl" type="url" value={f.authUrl ?? ''} onChange={set('authUrl')} error={errors.authUrl} />
            <Field label={t('accounts.projectName')} name="projectName" value={f.projectName ?? ''} onChange={set('projectName')} error={errors.projectName} />
            <Field label={t('accounts.accountUsername')} name="username" autoComplete="off" value={f.username ?? ''} onChange={set('username')} error={errors.username} />
            <Field label={t('accounts.accountPassword')} name="password" type="password" autoComplete="new-password" value={f.password ?? ''} onChange={set('password')} error={errors.password} />
          </>
        ) : (
          <>
            <Field label={t('accounts.apiUrl')} name="apiUrl" type="url" value={f.apiUrl ?? ''} onChange={set('apiUrl')} error={errors.apiUrl} />
            <Field label={t('accounts.apiKey')} name="apiKey" autoComplete="off" value={f.apiKey ?? ''} onChange={set('apiKey')} error={errors.apiKey} />
            <Field label={t('accounts.secretKey')} name="secretKey" type="password" autoComplete="new-password" value={f.secretKey ?? ''} onChange={set('secretKey')} error={errors.secretKey} />
          </>
        )}
        {add.error && !Object.keys(errors).length ? <ErrorNotice error={add.error} /> : null}
        <button type="submit" className="primary" disabled={add.isPending}>
          {t('accounts.add')}
        </button>
        <div role="status" aria-live="polite">
          {add.isSuccess && add.data && <p className="notice">{t('accounts.added', { name: add.data.name })}</p>}
        </div>
      </form>
    </section>
  );
}

export function CloudAccountsPage() {
  const { t } = useTranslation();
  const accounts = useCloudAccounts();
  return (
    <>
      <PageTitle title={t('accounts.title')}>{t('accounts.title')}</PageTitle>
      <p>{t('accounts.intro')}</p>
      {accounts.isPending && <Loading />}
      <ErrorNotice error={accounts.error} />
      {accounts.data && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('accounts.name')}</th>
                <th scope="col">{t('accounts.kind')}</th>
                <th scope="col">{t('accounts.scope')}</th>
                <th scope="col">{t('accounts.endpoint')}</th>
                <th scope="col">{t('accounts.secrets')}</th>
                <th scope="col">
                  <span className="visually-hidden">{t('vm.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {accounts.data.items.map((a) => (
                <AccountRow key={a.id} account={a} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <AddAccount />
    </>
  );
}
