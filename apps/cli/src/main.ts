import { main } from './cli';

// `npx parley ...` (bin/parley.js): run one command line and exit with its code.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0); // `parley runs | head`
  throw error;
});

void main(process.argv.slice(2), {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
}).then((code) => {
  // Exit once the output is flushed (an idle keep-alive connection must not hold the process).
  process.stdout.write('', () => process.exit(code));
});
