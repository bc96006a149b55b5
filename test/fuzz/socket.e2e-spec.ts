import { describe } from 'node:test';
import { socketFuzzSuite } from './socket-fuzz';

/** Property-based fuzzing of every socket.io client message (fixed seed; FUZZ_SEED / FUZZ_RUNS override). */
describe('fuzz: socket.io bad input', () => {
  socketFuzzSuite({ messages: 500 });
});
