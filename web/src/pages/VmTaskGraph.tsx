/**
 * Task graphs drawn as graphs (the Mistral-style workflow made visible) — a backup's tasks, and an
 * environment's members while its form is edited and while its graph runs: each task a box with its state (colour, a symbol and the word) and duration, an arrow from each task to the
 * tasks that require it, in layers by the longest `requires` chain (web/src/lib/graph.ts). The SVG
 * is one image with a title and a description for screen readers; the table under it holds the
 * same data, readable by everyone.
 */
import { useId, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Schemas } from '../api/client';
import { ScrollBox } from '../components';
import { formatDateTime, formatSeconds } from '../i18n';
import { DEFAULT_BOX, layoutTaskGraph, taskSeconds, type GraphTask } from '../lib/graph';
import { WorkflowLink } from './OperatorLinks';

type Backup = Schemas['Backup'];
type Task = Backup['tasks'][number];
type TaskState = Task['state'];

/**
 * A task to draw: a recorded one (state, times, error), or one being planned (no state yet: an
 * environment's members while its form is edited).
 */
export type DrawnTask = GraphTask & Partial<Omit<Task, 'name' | 'requires'>>;

/** A symbol beside the word, so a state never rests on colour alone. */
export const TASK_SYMBOL: Record<TaskState, string> = { pending: '○', running: '▶', succeeded: '✓', failed: '✗', skipped: '–', cancelled: '■' };

/** A safe SVG id from React's useId (which may hold characters `url(#…)` does not take). */
const svgId = (raw: string) => raw.replace(/[^A-Za-z0-9_-]/g, '');

/**
 * Tasks drawn as a graph. `title` names the drawing for screen readers; the description counts the
 * tasks, the layers and (for recorded tasks) the tasks in each state. `planned` words the second
 * line of a task without a state.
 */
export function TaskGraphSvg({ tasks, title, now, planned, testId = 'task-graph' }: { tasks: readonly DrawnTask[]; title: string; now: number; planned?: (task: DrawnTask) => string; testId?: string }) {
  const { t } = useTranslation();
  const id = svgId(useId());
  const g = useMemo(() => layoutTaskGraph(tasks), [tasks]);
  const counts = new Map<string, number>();
  for (const task of tasks) if (task.state) counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
  const states = [...counts].map(([s, n]) => `${t(`taskState.${s as TaskState}`)}: ${n}`).join(', ');
  const box = DEFAULT_BOX;
  return (
    <svg
      className="graph"
      data-testid={testId}
      role="img"
      aria-labelledby={`${id}-title ${id}-desc`}
      width={g.width}
      height={g.height}
      viewBox={`0 0 ${g.width} ${g.height}`}
    >
      <title id={`${id}-title`}>{title}</title>
      <desc id={`${id}-desc`}>{t('graph.svgDesc', { count: tasks.length, layers: g.layers, states })}</desc>
      <defs>
        <marker id={`${id}-arrow`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" className="arrow-head" />
        </marker>
      </defs>
      {g.edges.map((e) => (
        <path key={`${e.from}>${e.to}`} className="edge" d={e.path} markerEnd={`url(#${id}-arrow)`} data-from={e.from} data-to={e.to} />
      ))}
      {g.nodes.map(({ task, x, y }) => {
        const secs = taskSeconds(task, now);
        return (
          <g key={task.name} className={`node task-${task.state ?? 'planned'}`} data-task={task.name} data-state={task.state ?? 'planned'} transform={`translate(${x},${y})`}>
            <rect width={box.nodeWidth} height={box.nodeHeight} rx="6" />
            <text x="10" y="19" className="node-name">
              {task.name}
            </text>
            <text x="10" y="37" className="node-state">
              {task.state ? `${TASK_SYMBOL[task.state]} ${t(`taskState.${task.state}`)}` : (planned?.(task) ?? '')}
              {secs !== undefined ? ` · ${formatSeconds(secs)}` : ''}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

/** The same tasks as a table, readable by everyone: state, requirements, duration, error. */
export function TaskTable({ tasks, caption, now }: { tasks: readonly Task[]; caption: string; now: number }) {
  const { t } = useTranslation();
  return (
    <ScrollBox label={caption}>
      <table className="compact">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t('graph.task')}</th>
            <th scope="col">{t('graph.state')}</th>
            <th scope="col">{t('graph.requires')}</th>
            <th scope="col">{t('graph.duration')}</th>
            <th scope="col">{t('graph.detail')}</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => {
            const secs = taskSeconds(task, now);
            return (
              <tr key={task.name}>
                <th scope="row">{task.name}</th>
                <td>
                  <span className={`state state-${task.state}`}>
                    {TASK_SYMBOL[task.state]} {t(`taskState.${task.state}`)}
                  </span>
                </td>
                <td>{task.requires.length ? task.requires.join(', ') : t('graph.nothing')}</td>
                <td>{secs !== undefined ? formatSeconds(secs) : t('graph.nothing')}</td>
                <td className="wrap">{task.blockedBy ? t('graph.blockedBy', { task: task.blockedBy }) : (task.error ?? '')}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </ScrollBox>
  );
}

/** The task graph of one backup, chosen from the VM's backups (the newest first). */
export function TaskGraphSection({ backups }: { backups: Backup[] }) {
  const { t } = useTranslation();
  const selectId = useId();
  const [chosen, setChosen] = useState<string>();
  const backup = backups.find((b) => b.id === chosen) ?? backups[0];
  if (!backup || !backup.tasks.length) return null;
  // A running task's duration grows with each poll of the backups (the page re-renders then).
  const now = Date.now();
  return (
    <section aria-labelledby="graph-title" className="task-graph">
      <h3 id="graph-title">{t('graph.title')}</h3>
      <p className="help">{t('graph.intro')}</p>
      {backups.length > 1 && (
        <div className="field">
          <label htmlFor={selectId}>{t('graph.backup')}</label>
          <select id={selectId} value={backup.id} onChange={(e) => setChosen(e.target.value)}>
            {backups.map((b) => (
              <option key={b.id} value={b.id}>
                {t('graph.backupOption', { when: formatDateTime(b.startedAt), status: t(`backupStatus.${b.status}`) })}
              </option>
            ))}
          </select>
        </div>
      )}
      <div className="graph-wrap">
        <TaskGraphSvg tasks={backup.tasks} title={t('graph.svgTitle', { when: formatDateTime(backup.startedAt) })} now={now} />
      </div>
      <p>
        <WorkflowLink workflowId={backup.workflowId} what={t('operator.backup')} />
      </p>
      <TaskTable tasks={backup.tasks} caption={t('graph.tableCaption', { when: formatDateTime(backup.startedAt) })} now={now} />
    </section>
  );
}
