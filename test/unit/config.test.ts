import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { withTable } from '../../scripts/config-table';

describe('config', () => {
  it('when nothing is set, then the embedded defaults are used', () => {
    const c = loadConfig({});
    assert.equal(c.embeddedTemporal, true);
    assert.equal(c.embeddedMongo, true);
    assert.equal(c.temporalTarget, '127.0.0.1:7233');
    assert.equal(c.mongodbTarget, 'mongodb://127.0.0.1:27017/vmflow?maxPoolSize=12');
    assert.equal(c.apiPort, 3000);
    assert.equal(c.temporalUiPort, 8233);
  });

  it('when TEMPORAL_ADDRESS and MONGODB_URI are set, then no embedded server is planned and they are used', () => {
    const c = loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', MONGODB_URI: 'mongodb://db:27017/x' });
    assert.equal(c.embeddedTemporal, false);
    assert.equal(c.embeddedMongo, false);
    assert.equal(c.temporalTarget, 'temporal:7233');
    assert.equal(c.mongodbTarget, 'mongodb://db:27017/x');
  });

  it('when values are invalid, then the error names every bad variable', () => {
    assert.throws(
      () => loadConfig({ API_PORT: 'eighty', LOG_LEVEL: 'loud', TEMPORAL_UI_PORT: '70000' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        for (const name of ['API_PORT', 'LOG_LEVEL', 'TEMPORAL_UI_PORT']) assert.match(text, new RegExp(name));
        return true;
      },
    );
  });

  it('when the README is read, then its configuration table is the one generated from src/config.ts', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    assert.equal(readme, withTable(readme), 'run `npm run config:table` to update README.md');
  });
});
