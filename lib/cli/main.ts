#!/usr/bin/env node
import { Command } from 'commander';
import { runDemo } from './demo';

/**
 * The `shardline` command. Every failure ends with one line on stderr and a non-zero exit code.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('shardline')
    .description('Distributed sharding jobs over ZooKeeper, etcd or an embedded registry')
    .showHelpAfterError()
    .exitOverride();
  program
    .command('demo')
    .description('run the quickstart on the embedded registry')
    .action(async () => {
      await runDemo(line => process.stdout.write(line + '\n'));
    });
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    const code = (err as { exitCode?: unknown }).exitCode;
    if (typeof code === 'number') {
      return code; // commander already printed help / the usage error
    }
    process.stderr.write(`shardline: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv).then(code => {
    process.exitCode = code;
  });
}
