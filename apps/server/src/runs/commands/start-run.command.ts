import { commandOf } from '../../commands/command-of';

/** `input.runId` is chosen before the command is routed (the run's id picks its owner); generated when absent. */
export class StartRunCommand extends commandOf('run.start') {}
