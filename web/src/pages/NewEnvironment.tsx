/**
 * New environment: a name, a cloud, what a failing member does (roll back or keep), and either a
 * preset (OverCloud with its number of nodes, or Web-App-DB; size and OS for every member) or the
 * members one by one (name, OS and size from the catalog, and the other members each requires).
 * Beside the form the dependency graph is drawn as it is edited (VmTaskGraph.tsx's drawing): a
 * preset's members come from the same expansion the API uses (src/environments/expand.ts), and a
 * cycle in `requires` is named before the form can be sent (the API's own graph check). The
 * API's 400 field errors appear at their fields, a member's at that member.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { graphProblems, presetMembers } from '../../../src/environments/expand';
import { api, unwrap, type Schemas } from '../api/client';
import { keys, useCatalog } from '../api/hooks';
import { ChoiceGroup, ErrorNotice, Field, fieldErrors, Loading, PageTitle, Select } from '../components';
import type { GraphTask } from '../lib/graph';
import { CLOUDS, type Cloud } from './NewVm';
import { TaskGraphSvg } from './VmTaskGraph';

type Catalog = Schemas['Catalog'];
type Preset = 'web-app-db' | 'overcloud';
type OnFailure = 'rollback' | 'keep';

/** A member as edited: `key` stays when it is renamed, and `requires` holds the keys of other members. */
interface DraftMember {
  key: string;
  name: string;
  os: string;
  size: string;
  requires: string[];
}

let nextKey = 0;
const newMember = (catalog: Catalog): DraftMember => ({ key: `m${++nextKey}`, name: '', os: catalog.operatingSystems[0].id, size: catalog.sizes[0].id, requires: [] });

function CatalogSelects({ catalog, os, size, onOs, onSize, errors, labels, names }: { catalog: Catalog; os: string; size: string; onOs: (v: string) => void; onSize: (v: string) => void; errors: { os?: string; size?: string }; labels: { os: string; size: string }; names: { os: string; size: string } }) {
  return (
    <div className="field-row">
      <Select label={labels.os} name={names.os} value={os} onChange={onOs} error={errors.os}>
        {catalog.operatingSystems.map((o) => (
          <option key={o.id} value={o.id}>
            {o.displayName}
          </option>
        ))}
      </Select>
      <Select label={labels.size} name={names.size} value={size} onChange={onSize} error={errors.size}>
        {catalog.sizes.map((s) => (
          <option key={s.id} value={s.id}>
            {s.displayName}
          </option>
        ))}
      </Select>
    </div>
  );
}

/** The API's errors for one member (`members[2].…`), keyed by what follows (`name`, `requires[0]`, `software[1]`). */
function memberErrors(errors: Record<string, string>, index: number): Record<string, string> {
  const prefix = `members[${index}].`;
  const out: Record<string, string> = {};
  for (const [field, message] of Object.entries(errors)) {
    if (!field.startsWith(prefix)) continue;
    const rest = field.slice(prefix.length);
    const key = rest.startsWith('requires') ? 'requires' : ['name', 'os', 'size'].includes(rest) ? rest : 'other';
    out[key] = out[key] ? `${out[key]} ${message}` : message;
  }
  return out;
}

function MemberFields(props: { catalog: Catalog; member: DraftMember; index: number; others: Array<{ key: string; label: string }>; errors: Record<string, string>; cycle?: string; onChange: (m: DraftMember) => void; onRemove?: () => void }) {
  const { t } = useTranslation();
  const { member: m, index, errors } = props;
  const requiresError = [errors.requires, props.cycle].filter(Boolean).join(' ') || undefined;
  const requiresErrorId = `member-${m.key}-requires-error`;
  const n = index + 1;
  return (
    <fieldset className="member" data-testid={`member-${n}`}>
      <legend>{t('newEnv.member', { n })}</legend>
      <Field label={t('newEnv.memberName')} name={`members[${index}].name`} value={m.name} onChange={(e) => props.onChange({ ...m, name: e.target.value })} error={errors.name} autoComplete="off" required />
      <CatalogSelects
        catalog={props.catalog}
        os={m.os}
        size={m.size}
        onOs={(os) => props.onChange({ ...m, os })}
        onSize={(size) => props.onChange({ ...m, size })}
        errors={errors}
        labels={{ os: t('newEnv.memberOs'), size: t('newEnv.memberSize') }}
        names={{ os: `members[${index}].os`, size: `members[${index}].size` }}
      />
      <fieldset aria-describedby={requiresError ? requiresErrorId : undefined}>
        <legend>{t('newEnv.requires')}</legend>
        {props.others.length === 0 && <p className="help">{t('newEnv.requiresNone')}</p>}
        {props.others.map((o) => (
          <label key={o.key} className="check">
            <input
              type="checkbox"
              name={`members[${index}].requires`}
              value={o.label}
              checked={m.requires.includes(o.key)}
              onChange={(e) => props.onChange({ ...m, requires: e.target.checked ? [...m.requires, o.key] : m.requires.filter((k) => k !== o.key) })}
            />
            {o.label}
          </label>
        ))}
        {requiresError && (
          <p className="field-error" id={requiresErrorId}>
            {requiresError}
          </p>
        )}
      </fieldset>
      {errors.other && <p className="field-error">{errors.other}</p>}
      {props.onRemove && (
        <button type="button" onClick={props.onRemove}>
          {t('newEnv.removeMember', { n })}
        </button>
      )}
    </fieldset>
  );
}

function EnvironmentForm({ catalog }: { catalog: Catalog }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [cloud, setCloud] = useState<Cloud>('openstack');
  const [onFailure, setOnFailure] = useState<OnFailure>('rollback');
  const [shape, setShape] = useState<'preset' | 'members'>('preset');
  const [preset, setPreset] = useState<Preset>('web-app-db');
  const [number, setNumber] = useState('3');
  const [os, setOs] = useState(catalog.operatingSystems[0].id);
  const [size, setSize] = useState(catalog.sizes[0].id);
  const [members, setMembers] = useState<DraftMember[]>(() => [newMember(catalog)]);
  const [idempotencyKey] = useState(() => crypto.randomUUID());

  // Each member's label (its name, or "member 3" while it has none), by its key.
  const labels = useMemo(() => new Map(members.map((m, i) => [m.key, m.name.trim() || t('newEnv.unnamed', { n: i + 1 })])), [members, t]);
  const labelOf = (key: string) => labels.get(key) ?? key;
  const requestMembers = members.map((m) => ({ name: m.name.trim(), os: m.os, size: m.size, requires: m.requires.map((k) => members.find((x) => x.key === k)?.name.trim() ?? '') }));

  // What the graph draws: the preset's expansion (the API's own), or the members as edited.
  const nodes: GraphTask[] = useMemo(() => {
    if (shape === 'preset') {
      const count = Math.min(10, Math.max(1, Math.trunc(Number(number)) || 1));
      return presetMembers(preset, { number: count, size, os }).map((m) => ({ name: m.name, requires: m.requires ?? [] }));
    }
    const seen = new Set<string>();
    const drawn: GraphTask[] = [];
    for (const m of members) {
      const label = labels.get(m.key)!;
      if (seen.has(label)) continue; // a duplicate name: the API names it; drawn once
      seen.add(label);
      drawn.push({ name: label, requires: m.requires.map((k) => labels.get(k) ?? k) });
    }
    return drawn;
  }, [shape, preset, number, size, os, members, labels]);

  // A cycle in `requires`, found before the form is sent (the API's own graph check, on the
  // members' keys so an unnamed or duplicate member does not hide one), by member.
  const cycles = useMemo(() => {
    const byMember = new Map<number, string>();
    if (shape !== 'members') return byMember;
    for (const p of graphProblems(members.map((m, i) => ({ name: m.key, requires: m.requires, field: `members[${i}]` })))) {
      if (!p.message.startsWith('dependency cycle ')) continue;
      const i = Number(/^members\[(\d+)\]/.exec(p.field)?.[1]);
      byMember.set(i, p.message.slice('dependency cycle '.length).split(' → ').map((k) => labels.get(k) ?? k).join(' → '));
    }
    return byMember;
  }, [shape, members, labels]);

  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/v1/environments', {
          params: { header: { 'Idempotency-Key': idempotencyKey } },
          body: {
            name,
            cloud,
            onMemberFailure: onFailure,
            ...(shape === 'preset'
              ? { preset, size, os, ...(preset === 'overcloud' ? { number: number.trim() === '' ? Number.NaN : Number(number) } : {}) }
              : { members: requestMembers }),
          },
        }),
      ),
    onSuccess: async (accepted) => {
      await qc.invalidateQueries({ queryKey: keys.environments });
      await navigate(`/environments/${accepted.environment.id}`);
    },
  });
  const errors = fieldErrors(create.error, { exact: true });
  const topErrors = fieldErrors(create.error);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (cycles.size) return; // named beside the members already
    create.mutate();
  };
  const update = (i: number, m: DraftMember) => setMembers((all) => all.map((x, j) => (j === i ? m : x)));
  const remove = (i: number) =>
    setMembers((all) => {
      const gone = all[i].key;
      return all.filter((_, j) => j !== i).map((m) => ({ ...m, requires: m.requires.filter((k) => k !== gone) }));
    });

  return (
    <div className="split">
      <form onSubmit={onSubmit} noValidate className="card">
        {create.error ? <ErrorNotice error={create.error}>{Object.keys(errors).length ? t('newEnv.fixFields') : undefined}</ErrorNotice> : null}
        {cycles.size > 0 && (
          <div className="notice notice-error" role="alert" data-testid="cycle-notice">
            <p>{t('newEnv.cycle')}</p>
            <ul>
              {[...cycles.values()].map((path) => (
                <li key={path}>{path}</li>
              ))}
            </ul>
          </div>
        )}
        <Field label={t('newEnv.name')} name="name" required value={name} onChange={(e) => setName(e.target.value)} help={t('newEnv.nameHelp')} error={errors.name} autoComplete="off" />
        <ChoiceGroup legend={t('newEnv.cloud')} name="cloud" value={cloud} onChange={setCloud} error={topErrors.cloud ?? topErrors.accountId} options={CLOUDS.map((c) => ({ value: c, label: t(`cloud.${c}`) }))} />
        <ChoiceGroup
          legend={t('newEnv.onFailure')}
          name="onMemberFailure"
          value={onFailure}
          onChange={setOnFailure}
          error={errors.onMemberFailure}
          options={[
            { value: 'rollback', label: t('newEnv.rollback') },
            { value: 'keep', label: t('newEnv.keep') },
          ]}
        />
        <ChoiceGroup
          legend={t('newEnv.shape')}
          name="shape"
          value={shape}
          onChange={setShape}
          error={shape === 'preset' ? errors.preset : errors.members}
          options={[
            { value: 'preset', label: t('newEnv.usePreset') },
            { value: 'members', label: t('newEnv.useMembers') },
          ]}
        />
        {shape === 'preset' ? (
          <>
            <ChoiceGroup
              legend={t('newEnv.preset')}
              name="preset"
              value={preset}
              onChange={setPreset}
              options={[
                { value: 'web-app-db', label: t('newEnv.presetWebAppDb') },
                { value: 'overcloud', label: t('newEnv.presetOvercloud') },
              ]}
            />
            {preset === 'overcloud' && <Field label={t('newEnv.number')} name="number" inputMode="numeric" value={number} onChange={(e) => setNumber(e.target.value)} help={t('newEnv.numberHelp')} error={errors.number} autoComplete="off" />}
            <CatalogSelects catalog={catalog} os={os} size={size} onOs={setOs} onSize={setSize} errors={errors} labels={{ os: t('newEnv.os'), size: t('newEnv.size') }} names={{ os: 'os', size: 'size' }} />
          </>
        ) : (
          <>
            {members.map((m, i) => (
              <MemberFields
                key={m.key}
                catalog={catalog}
                member={m}
                index={i}
                others={members.flatMap((o, j) => (j === i ? [] : [{ key: o.key, label: labelOf(o.key) }]))}
                errors={memberErrors(errors, i)}
                cycle={cycles.get(i)}
                onChange={(next) => update(i, next)}
                onRemove={members.length > 1 ? () => remove(i) : undefined}
              />
            ))}
            <p>
              <button type="button" onClick={() => setMembers((all) => [...all, newMember(catalog)])} disabled={members.length >= 20}>
                {t('newEnv.addMember')}
              </button>
            </p>
          </>
        )}
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? t('newEnv.submitting') : t('newEnv.submit')}
        </button>
      </form>
      <div className="side">
        <section className="card" aria-labelledby="env-graph-title">
          <h2 id="env-graph-title">{t('newEnv.graphTitle')}</h2>
          <p className="help">{t('newEnv.graphHelp')}</p>
          <div className="graph-wrap">
            <TaskGraphSvg tasks={nodes} title={t('newEnv.svgTitle')} now={0} planned={() => t('newEnv.planned')} testId="member-graph" />
          </div>
        </section>
      </div>
    </div>
  );
}

export function NewEnvironmentPage() {
  const { t } = useTranslation();
  const catalog = useCatalog();
  return (
    <>
      <PageTitle title={t('newEnv.title')}>{t('newEnv.title')}</PageTitle>
      <p>{t('newEnv.intro')}</p>
      {catalog.isPending && <Loading />}
      <ErrorNotice error={catalog.error} />
      {catalog.data && <EnvironmentForm catalog={catalog.data} />}
    </>
  );
}
