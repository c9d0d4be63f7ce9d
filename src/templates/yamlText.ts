/**
 * YAML text for documents read by Python's PyYAML (cloud-init and Heat both use it), which speaks
 * YAML 1.1: there `yes`, `on`, `0777`, `1:20` and dates are not strings. Emitting with the 1.1
 * schema quotes such strings, so every reader sees the same values. Options are fixed (no line
 * folding, no anchors) so the same value always gives byte-identical text.
 */
import { Document, type Scalar, visit } from 'yaml';

/** Plain scalars PyYAML's safe loader cannot construct (the `value` and `merge` tags). */
const PYYAML_UNSAFE_PLAIN = new Set(['=', '<<']);

export function toYaml(value: unknown): string {
  const doc = new Document(value, { version: '1.1', aliasDuplicateObjects: false });
  visit(doc, {
    Scalar(_key, node: Scalar) {
      if (typeof node.value === 'string' && PYYAML_UNSAFE_PLAIN.has(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString({ lineWidth: 0, minContentWidth: 0, indent: 2 });
}
