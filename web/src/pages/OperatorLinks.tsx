/**
 * Links into the Temporal Web UI, shown to operators only: GET /auth/me carries `temporalUi` (link
 * templates) for a member holding the operator role and nothing for anyone else, so a member's
 * page has no link to follow and no address of the UI in it.
 */
import { useTranslation } from 'react-i18next';
import { useMe } from '../api/hooks';

type Links = NonNullable<NonNullable<ReturnType<typeof useMe>['data']>['temporalUi']>;

function useTemporalUi(): Links | undefined {
  return useMe().data?.temporalUi;
}

/** The UI's runs of one workflow, for an operator; nothing for a member. */
export function WorkflowLink({ workflowId, what }: { workflowId: string; what?: string }) {
  const { t } = useTranslation();
  const ui = useTemporalUi();
  if (!ui) return null;
  return (
    <a className="operator-link" href={ui.workflowUrl.replace('{workflowId}', encodeURIComponent(workflowId))} target="_blank" rel="noreferrer">
      {what ? t('operator.temporalOf', { what }) : t('operator.temporal')}
    </a>
  );
}

/** The UI's runs of the VM's DR workflow (drVm), for an operator; nothing for a member. */
export function DrWorkflowLink({ vmId }: { vmId: string }) {
  const { t } = useTranslation();
  const ui = useTemporalUi();
  if (!ui) return null;
  return (
    <a className="operator-link" href={ui.drWorkflowUrl.replace('{vmId}', encodeURIComponent(vmId))} target="_blank" rel="noreferrer">
      {t('operator.temporalOf', { what: t('operator.drWorkflow') })}
    </a>
  );
}

/** A line saying the page shows operator links (for an operator only). */
export function OperatorNote() {
  const { t } = useTranslation();
  return useTemporalUi() ? <p className="muted operator-note">{t('operator.note')}</p> : null;
}
