import { describe, it } from 'node:test';
import { envNumber } from './load-kit';
import { reconnectStorm } from './reconnect-storm';

/** 1,000 WebSocket clients (LOAD_CLIENTS) in two child processes, 10 debates, two reconnect storms. */
describe('load: reconnect storm', () => {
  it('1,000 clients watching 10 debates; all connections drop, then the server restarts: 100% delivery through afterSeq', async () => {
    await reconnectStorm({
      clients: envNumber('LOAD_CLIENTS', 1000),
      debates: envNumber('LOAD_DEBATES', 10),
      processes: 2,
      name: 'reconnect-storm',
    });
  });
});
