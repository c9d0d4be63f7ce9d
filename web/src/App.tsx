/** The layout (skip link, header, navigation, language switch, live alert notice) and the routes. */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, NavLink, Route, Routes, useNavigate } from 'react-router';
import { api, unwrap } from './api/client';
import { keys, useMe } from './api/hooks';
import { RequireSession } from './components';
import { LANGUAGES, setLanguage, type Language } from './i18n';
import { AlertNotice, useUnreadCount } from './pages/Alerts';
import { AlertsPage } from './pages/Alerts';
import { CloudAccountsPage } from './pages/CloudAccounts';
import { EnvironmentPage } from './pages/Environment';
import { EnvironmentsPage } from './pages/Environments';
import { LoginPage, SignupPage } from './pages/Auth';
import { MePage } from './pages/Me';
import { NewEnvironmentPage } from './pages/NewEnvironment';
import { NewVmPage } from './pages/NewVm';
import { NotFoundPage } from './pages/NotFound';
import { VmPage } from './pages/Vm';
import { VmsPage } from './pages/Vms';

function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <label className="language">
      <span>{t('app.language')}</span>
      <select value={i18n.language} onChange={(e) => void setLanguage(e.target.value as Language)}>
        {Object.entries(LANGUAGES).map(([code, name]) => (
          <option key={code} value={code} lang={code}>
            {name}
          </option>
        ))}
      </select>
    </label>
  );
}

function Navigation() {
  const { t } = useTranslation();
  const me = useMe();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const unread = useUnreadCount(!!me.data);
  const logout = useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/auth/logout')),
    onSettled: async () => {
      qc.clear();
      await qc.invalidateQueries({ queryKey: keys.me });
      await navigate('/login', { state: { loggedOut: true } });
    },
  });
  if (me.isPending) return null;
  return (
    <nav aria-label={t('nav.main')}>
      <ul>
        {me.data ? (
          <>
            <li>
              <NavLink to="/" end>
                {t('nav.vms')}
              </NavLink>
            </li>
            <li>
              <NavLink to="/vms/new">{t('nav.newVm')}</NavLink>
            </li>
            <li>
              <NavLink to="/environments">{t('nav.environments')}</NavLink>
            </li>
            <li>
              <NavLink to="/alerts">{unread > 0 ? t('nav.alertsUnread', { count: unread }) : t('nav.alerts')}</NavLink>
            </li>
            <li>
              <NavLink to="/cloud-accounts">{t('nav.accounts')}</NavLink>
            </li>
            <li>
              <NavLink to="/me">{t('nav.me')}</NavLink>
            </li>
            <li>
              <button type="button" className="link-button" onClick={() => logout.mutate()} disabled={logout.isPending}>
                {t('nav.logout')}
              </button>
            </li>
          </>
        ) : (
          <>
            <li>
              <NavLink to="/login">{t('nav.login')}</NavLink>
            </li>
            <li>
              <NavLink to="/signup">{t('nav.signup')}</NavLink>
            </li>
          </>
        )}
      </ul>
    </nav>
  );
}

export function App() {
  const { t } = useTranslation();
  const me = useMe();
  return (
    <>
      <a className="skip" href="#main">
        {t('app.skip')}
      </a>
      <header className="top">
        <div className="brand">
          <Link to="/">{t('app.name')}</Link>
          <span className="muted tagline">{t('app.tagline')}</span>
        </div>
        {me.data && <span className="muted who">{t('nav.signedInAs', { username: me.data.username })}</span>}
        <LanguageSwitch />
        <Navigation />
      </header>
      {me.data && <AlertNotice />}
      <main id="main">
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route path="/signup" element={<SignupPage />} />
          <Route path="/" element={<RequireSession><VmsPage /></RequireSession>} />
          <Route path="/vms/new" element={<RequireSession><NewVmPage /></RequireSession>} />
          <Route path="/vms/:id" element={<RequireSession><VmPage /></RequireSession>} />
          <Route path="/environments" element={<RequireSession><EnvironmentsPage /></RequireSession>} />
          <Route path="/environments/new" element={<RequireSession><NewEnvironmentPage /></RequireSession>} />
          <Route path="/environments/:id" element={<RequireSession><EnvironmentPage /></RequireSession>} />
          <Route path="/alerts" element={<RequireSession><AlertsPage /></RequireSession>} />
          <Route path="/cloud-accounts" element={<RequireSession><CloudAccountsPage /></RequireSession>} />
          <Route path="/me" element={<RequireSession><MePage /></RequireSession>} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </main>
    </>
  );
}
