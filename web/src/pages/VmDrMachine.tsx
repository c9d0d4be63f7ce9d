/**
 * The DR state machine drawn, with the VM's current state lit. The states and transitions are
 * drVm's (workflows/dr.ts and workflows/dr/*.ts set `state`): Protected, Degraded, FailingOver,
 * FailedOver, FailingBack, with "waits for approval" (FailedOver with `awaitingApproval`, in
 * approval mode) drawn as its own box, and "Not protected" outside the machine. A drill runs on
 * an isolated copy beside the machine and changes no state (said under the drawing).
 *
 * The lit state is told three ways: filled in the accent colour, a thicker outline, and the word
 * "now" in the box. The SVG is one image with a title and a description; the transitions are also
 * a table (in a disclosure) for screen readers and anyone who prefers text.
 */
import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import type { Schemas } from '../api/client';
import type { en } from '../i18n/en';

type DrStateName = Schemas['DrState']['state'];
export type MachineNode = 'none' | DrStateName | 'AwaitingApproval';
type TransitionKey = keyof (typeof en)['drMachine']['t'];

const W = 150;
const H = 50;
/** Hand-placed: the story reads left to right along the top, and back home along the bottom. */
const NODES: Record<MachineNode, { x: number; y: number }> = {
  none: { x: 10, y: 20 },
  Protected: { x: 250, y: 20 },
  Degraded: { x: 590, y: 20 },
  FailingOver: { x: 590, y: 160 },
  FailedOver: { x: 320, y: 160 },
  FailingBack: { x: 50, y: 160 },
  AwaitingApproval: { x: 185, y: 290 },
};
const ORDER: MachineNode[] = ['none', 'Protected', 'Degraded', 'FailingOver', 'FailedOver', 'AwaitingApproval', 'FailingBack'];

interface Transition {
  from: MachineNode;
  to: MachineNode;
  key: TransitionKey;
  /** Path and where its short label sits. */
  d: string;
  lx: number;
  ly: number;
  anchor?: 'start' | 'middle' | 'end';
}

const TRANSITIONS: Transition[] = [
  { from: 'none', to: 'Protected', key: 'protect', d: 'M160,45 L248,45', lx: 204, ly: 38 },
  { from: 'Protected', to: 'Degraded', key: 'unhealthy', d: 'M400,35 L588,35', lx: 494, ly: 28 },
  { from: 'Degraded', to: 'Protected', key: 'recovered', d: 'M590,57 L402,57', lx: 494, ly: 76 },
  { from: 'Degraded', to: 'FailingOver', key: 'failover', d: 'M645,70 L645,158', lx: 638, ly: 118, anchor: 'end' },
  { from: 'FailingOver', to: 'Degraded', key: 'failoverFailed', d: 'M695,160 L695,72', lx: 702, ly: 118, anchor: 'start' },
  { from: 'FailingOver', to: 'FailedOver', key: 'switched', d: 'M590,175 L472,175', lx: 531, ly: 168 },
  { from: 'FailedOver', to: 'FailingOver', key: 'liveCopyLost', d: 'M470,197 L588,197', lx: 531, ly: 216 },
  { from: 'FailedOver', to: 'Protected', key: 'reprotected', d: 'M395,160 L345,72', lx: 378, ly: 118, anchor: 'start' },
  { from: 'FailedOver', to: 'FailingBack', key: 'failback', d: 'M320,175 L202,175', lx: 261, ly: 168 },
  { from: 'FailingBack', to: 'FailedOver', key: 'failbackFailed', d: 'M200,197 L318,197', lx: 261, ly: 216 },
  { from: 'FailingBack', to: 'Protected', key: 'failedBack', d: 'M135,160 L285,72', lx: 200, ly: 112, anchor: 'end' },
  { from: 'FailedOver', to: 'AwaitingApproval', key: 'needsApproval', d: 'M380,210 L318,288', lx: 356, ly: 262, anchor: 'start' },
  { from: 'AwaitingApproval', to: 'FailingBack', key: 'approved', d: 'M215,290 L150,212', lx: 174, ly: 262, anchor: 'end' },
];

/** The box to light for a DR view: outside the machine when unprotected, approval as its own box. */
export function currentNode(dr: Schemas['DrView']): MachineNode {
  if (!dr.protected) return 'none';
  const s = dr.state;
  if (!s) return 'Protected'; // protected, its workflow not answering yet: it starts Protected
  if (s.state === 'FailedOver' && s.awaitingApproval) return 'AwaitingApproval';
  return s.state;
}

export function DrMachine({ dr }: { dr: Schemas['DrView'] }) {
  const { t } = useTranslation();
  const id = useId().replace(/[^A-Za-z0-9_-]/g, '');
  const now = currentNode(dr);
  const label = (n: MachineNode) => (n === 'none' ? t('drState.none') : n === 'AwaitingApproval' ? t('drMachine.awaitingApproval') : t(`drState.${n}`));
  return (
    <section aria-labelledby={`${id}-heading`} className="dr-machine">
      <h3 id={`${id}-heading`}>{t('drMachine.title')}</h3>
      <div className="graph-wrap">
        <svg className="graph" data-testid="dr-machine" role="img" aria-labelledby={`${id}-title ${id}-desc`} width="760" height="350" viewBox="0 0 760 350">
          <title id={`${id}-title`}>{t('drMachine.svgTitle', { state: label(now) })}</title>
          <desc id={`${id}-desc`}>{t('drMachine.svgDesc', { states: ORDER.map(label).join(', '), state: label(now) })}</desc>
          <defs>
            <marker id={`${id}-arrow`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" className="arrow-head" />
            </marker>
          </defs>
          {TRANSITIONS.map((tr) => (
            <g key={`${tr.from}>${tr.to}`} className={`transition${tr.from === now ? ' from-now' : ''}`} data-from={tr.from} data-to={tr.to}>
              <path className="edge" d={tr.d} markerEnd={`url(#${id}-arrow)`} />
              <text className="edge-label" x={tr.lx} y={tr.ly} textAnchor={tr.anchor ?? 'middle'}>
                {t(`drMachine.short.${tr.key}`)}
              </text>
            </g>
          ))}
          {ORDER.map((n) => {
            const { x, y } = NODES[n];
            const lit = n === now;
            return (
              <g key={n} className={`node state-node${lit ? ' lit' : ''}`} data-node={n} data-current={lit ? 'true' : undefined} transform={`translate(${x},${y})`}>
                <rect width={W} height={H} rx={H / 2} />
                <text x={W / 2} y={lit ? 21 : 30} textAnchor="middle" className="node-name">
                  {label(n)}
                </text>
                {lit && (
                  <text x={W / 2} y="39" textAnchor="middle" className="node-state">
                    ● {t('drMachine.now')}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      </div>
      <p className="help">{t('drMachine.offNote')}</p>
      <details>
        <summary>{t('drMachine.transitions')}</summary>
        <div className="table-wrap">
          <table className="compact">
            <thead>
              <tr>
                <th scope="col">{t('drMachine.from')}</th>
                <th scope="col">{t('drMachine.to')}</th>
                <th scope="col">{t('drMachine.when')}</th>
              </tr>
            </thead>
            <tbody>
              {TRANSITIONS.map((tr) => (
                <tr key={`${tr.from}>${tr.to}`} className={tr.from === now ? 'current' : undefined}>
                  <td>{label(tr.from)}</td>
                  <td>{label(tr.to)}</td>
                  <td>{t(`drMachine.t.${tr.key}`)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </section>
  );
}
