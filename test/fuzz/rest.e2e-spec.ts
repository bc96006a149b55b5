import { describe } from 'node:test';
import { restFuzzSuite } from './rest-fuzz';

/** Property-based fuzzing of every REST body, query and id (fixed seed; FUZZ_SEED / FUZZ_RUNS override). */
describe('fuzz: REST bad input', () => {
  restFuzzSuite({ requests: 500, imports: 60 });
});
