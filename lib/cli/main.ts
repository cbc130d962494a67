#!/usr/bin/env node
// The hashlog command: serve a store over the Redis protocol, or work on a directory.
import { Command, CommanderError } from 'commander';
import { HashlogError } from '../errors';
import { VERSION } from '../version';
import { registerBench } from './bench';
import { registerCheck } from './check';
import { registerData } from './data';
import { CliError } from './open-dir';
import { registerServe } from './serve';

function program(): Command {
  const p = new Command('hashlog')
    .description('a persistent key-value store with O(1) get, put and del')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerServe(p);
  registerData(p);
  registerCheck(p);
  registerBench(p);
  return p;
}

async function main(): Promise<void> {
  try {
    await program().parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode);
    if (e instanceof CliError) {
      process.stderr.write(`hashlog: ${e.message}\n`);
      process.exit(e.exitCode);
    }
    if (e instanceof HashlogError) {
      process.stderr.write(`hashlog: ${e.message} (${e.code})\n`);
      process.exit(1);
    }
    throw e;
  }
}

void main();
