import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { PageTitle } from '../components';

export function NotFoundPage() {
  const { t } = useTranslation();
  return (
    <>
      <PageTitle title={t('app.notFound')}>{t('app.notFound')}</PageTitle>
      <p>
        <Link to="/">{t('app.backHome')}</Link>
      </p>
    </>
  );
}
