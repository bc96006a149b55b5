import { describe } from 'node:test';
import { workflowFuzzSuite } from './workflow-fuzz';

/** Property-based fuzzing of workflow files (fixed seed; FUZZ_SEED / FUZZ_RUNS override). */
describe('fuzz: workflow files', () => {
  workflowFuzzSuite({ files: 600 });
});
