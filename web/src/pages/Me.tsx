/** The member's account: who they are, and withdrawal with the password re-entered. */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { api, isApiError, unwrap } from '../api/client';
import { keys, useMe } from '../api/hooks';
import { ErrorNotice, Field, PageTitle } from '../components';
import { formatDateTime } from '../i18n';

export function MePage() {
  const { t } = useTranslation();
  const me = useMe();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [password, setPassword] = useState('');
  const withdraw = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/v1/auth/me', { body: { password } })),
    onSuccess: async () => {
      qc.clear();
      qc.setQueryData(keys.me, null);
      await navigate('/login', { state: { withdrawn: true } });
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    withdraw.mutate();
  };
  const err = withdraw.error;
  const passwordError = isApiError(err, 403) ? t('me.wrongPassword') : undefined;
  const message = isApiError(err, 409) ? t('me.ownsVms') : isApiError(err, 403) ? undefined : err ? (err as Error).message : undefined;
  return (
    <>
      <PageTitle title={t('me.title')}>{t('me.title')}</PageTitle>
      <dl className="facts">
        <dt>{t('me.member')}</dt>
        <dd>{me.data?.username}</dd>
        <dt>{t('me.since')}</dt>
        <dd>{formatDateTime(me.data?.createdAt)}</dd>
      </dl>
      <section aria-labelledby="withdraw-title" className="card narrow danger">
        <h2 id="withdraw-title">{t('me.withdrawTitle')}</h2>
        <p>{t('me.withdrawText')}</p>
        {message && <ErrorNotice error={err}>{message}</ErrorNotice>}
        <form onSubmit={onSubmit} noValidate>
          <Field
            label={t('me.withdrawPassword')}
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={passwordError}
          />
          <button type="submit" className="danger" disabled={!password || withdraw.isPending}>
            {t('me.withdrawSubmit')}
          </button>
        </form>
      </section>
    </>
  );
}
