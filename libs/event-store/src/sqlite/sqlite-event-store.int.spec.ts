import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventStoreContract } from '../event-store.contract';
import { SqliteEventStore } from './sqlite-event-store';

const root = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
let n = 0;

eventStoreContract('sqlite', {
  newLocation: () => join(root, `store-${++n}`),
  open: async (dataDir) => new SqliteEventStore({ dataDir }),
  cleanup: async () => rmSync(root, { recursive: true, force: true }),
});
