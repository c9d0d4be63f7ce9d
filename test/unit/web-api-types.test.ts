/**
 * The console's typed client is generated from the OpenAPI document (scripts/web.ts): when a
 * route or schema changes and web/src/api/schema.d.ts was not regenerated, this fails, so the
 * page and the API cannot drift apart unnoticed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { API_TYPES_FILE, generatedApiTypes } from '../../scripts/web';

describe('web console API types (web/src/api/schema.d.ts)', function () {
  this.timeout(60_000);

  it('when the types are generated from the OpenAPI document now, then they equal the committed file (else run `npx tsx scripts/web.ts types`)', async () => {
    const fresh = await generatedApiTypes();
    const committed = fs.readFileSync(API_TYPES_FILE, 'utf8');
    assert.ok(fresh.includes('"/api/v1/vms/{id}"') && fresh.includes('operations["createVm"]'), 'the generated types describe the VM routes');
    assert.ok(committed === fresh, 'web/src/api/schema.d.ts is stale: run `npx tsx scripts/web.ts types` and commit it');
  });
});
