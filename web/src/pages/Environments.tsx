/**
 * Environments: the member's environments (GET /environments) — name, cloud, what it was made
 * from (a preset or members one by one), state and member count, each linking to its page. Polls
 * fast while one is being created or destroyed, and backs off when nothing changes.
 */
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useEnvironments } from '../api/hooks';
import { ErrorNotice, Loading, PageTitle } from '../components';
import { formatShortDateTime } from '../i18n';

function NewEnvironmentLink() {
  const { t } = useTranslation();
  return (
    <p>
      <Link className="button primary" to="/environments/new">
        {t('environments.newAction')}
      </Link>
    </p>
  );
}

export function EnvironmentsPage() {
  const { t } = useTranslation();
  const q = useEnvironments();
  const environments = q.data?.environments;
  return (
    <>
      <PageTitle title={t('environments.title')}>{t('environments.title')}</PageTitle>
      <p>{t('environments.intro')}</p>
      {q.isPending && <Loading />}
      <ErrorNotice error={q.error} />
      {environments && environments.length === 0 && (
        <section className="card empty" aria-labelledby="empty-title">
          <h2 id="empty-title">{t('environments.emptyTitle')}</h2>
          <p>{t('environments.emptyText')}</p>
          <NewEnvironmentLink />
        </section>
      )}
      {environments && environments.length > 0 && (
        <>
          <NewEnvironmentLink />
          <div className="table-wrap">
            <table className="env-list" data-testid="environment-list">
              <caption className="muted">{t('environments.caption')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('environments.name')}</th>
                  <th scope="col">{t('environments.cloud')}</th>
                  <th scope="col">{t('environments.preset')}</th>
                  <th scope="col">{t('environments.state')}</th>
                  <th scope="col">{t('environments.members')}</th>
                  <th scope="col">{t('environments.created')}</th>
                </tr>
              </thead>
              <tbody>
                {environments.map((env) => (
                  <tr key={env.id}>
                    <th scope="row">
                      <Link to={`/environments/${env.id}`}>{env.name}</Link>
                    </th>
                    <td>{t(`cloud.${env.cloud}`)}</td>
                    <td>{t(`preset.${env.preset ?? 'none'}`)}</td>
                    <td>
                      <span className={`state state-${env.state}`}>{t(`envState.${env.state}`)}</span>
                    </td>
                    <td>{env.members.length}</td>
                    <td>
                      <time dateTime={env.createdAt}>{formatShortDateTime(env.createdAt)}</time>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
