import { describe } from 'node:test';
import { restFuzzSuite } from './rest-fuzz';
import { socketFuzzSuite } from './socket-fuzz';
import { workflowFuzzSuite } from './workflow-fuzz';

/** The long fuzz runs (`npm run test:chaos`): the normal suite's generators, ten times the inputs. */
describe('fuzz (chaos): REST bad input', () => restFuzzSuite({ requests: 5_000, imports: 500 }));
describe('fuzz (chaos): socket.io bad input', () => socketFuzzSuite({ messages: 5_000 }));
describe('fuzz (chaos): workflow files', () => workflowFuzzSuite({ files: 5_000 }));
