/** Sign up and log in. Refusals appear where the member looks: at the field, or above the form. */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation, useNavigate } from 'react-router';
import { api, isApiError, unwrap } from '../api/client';
import { keys } from '../api/hooks';
import { ErrorNotice, Field, fieldErrors, PageTitle } from '../components';

interface Credentials {
  username: string;
  password: string;
}

/** The message for a refused log-in or sign-up, or undefined when the fields say it all. */
function refusal(err: unknown, t: (k: string, o?: Record<string, unknown>) => string): string | undefined {
  if (!isApiError(err)) return err ? String((err as Error).message ?? err) : undefined;
  if (err.status === 401) return t('auth.wrongCredentials');
  if (err.status === 429) return t('auth.tooManyTries', { seconds: err.retryAfter ?? 60 });
  if (err.status === 503) return t('auth.busy', { seconds: err.retryAfter ?? 5 });
  if (err.status === 409) return undefined; // shown at the ID field
  if (err.status === 400 && err.fields.length) return undefined;
  return err.message;
}

function useLogin() {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from;
  return async (c: Credentials) => {
    const session = await unwrap(api.POST('/api/v1/auth/login', { body: c }));
    qc.setQueryData(keys.me, { ...session.user, roles: [] });
    await qc.invalidateQueries({ queryKey: keys.me });
    await navigate(from && from !== '/login' && from !== '/signup' ? from : '/', { replace: true });
  };
}

function CredentialsForm(props: { mode: 'login' | 'signup' }) {
  const { t } = useTranslation();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const login = useLogin();
  const submit = useMutation({
    mutationFn: async (c: Credentials) => {
      if (props.mode === 'signup') await unwrap(api.POST('/api/v1/auth/signup', { body: c }));
      await login(c);
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    submit.mutate({ username, password });
  };
  const errors = fieldErrors(submit.error);
  if (isApiError(submit.error, 409)) errors.username = t('auth.usernameTaken');
  const message = refusal(submit.error, t);
  return (
    <form onSubmit={onSubmit} noValidate className="card narrow">
      {message && <ErrorNotice error={submit.error}>{message}</ErrorNotice>}
      <Field
        label={t('auth.username')}
        name="username"
        autoComplete="username"
        required
        value={username}
        onChange={(e) => setUsername(e.target.value)}
        help={props.mode === 'signup' ? t('auth.usernameHelp') : undefined}
        error={errors.username}
      />
      <Field
        label={t('auth.password')}
        name="password"
        type="password"
        autoComplete={props.mode === 'signup' ? 'new-password' : 'current-password'}
        required
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        help={props.mode === 'signup' ? t('auth.passwordHelp') : undefined}
        error={errors.password}
      />
      <button type="submit" className="primary" disabled={submit.isPending}>
        {props.mode === 'signup' ? t('auth.signupSubmit') : t('auth.loginSubmit')}
      </button>
    </form>
  );
}

export function LoginPage() {
  const { t } = useTranslation();
  const location = useLocation();
  const state = location.state as { loggedOut?: boolean; withdrawn?: boolean } | null;
  return (
    <>
      <PageTitle title={t('auth.loginTitle')}>{t('auth.loginTitle')}</PageTitle>
      {state?.loggedOut && (
        <p role="status" className="notice">
          {t('auth.loggedOut')}
        </p>
      )}
      {state?.withdrawn && (
        <p role="status" className="notice">
          {t('me.withdrawn')}
        </p>
      )}
      <CredentialsForm mode="login" />
      <p>
        {t('auth.noAccount')} <Link to="/signup">{t('nav.signup')}</Link>
      </p>
    </>
  );
}

export function SignupPage() {
  const { t } = useTranslation();
  return (
    <>
      <PageTitle title={t('auth.signupTitle')}>{t('auth.signupTitle')}</PageTitle>
      <CredentialsForm mode="signup" />
      <p>
        {t('auth.haveAccount')} <Link to="/login">{t('nav.login')}</Link>
      </p>
    </>
  );
}
