// The command table: every command the server knows, by lower-case name.
import type { CommandSpec } from '../context';
import { command } from '../context';
import { adminCommands } from './admin';
import { connectionCommands } from './connection';
import { keyCommands } from './keys';
import { replicationCommands } from './replication';
import { stringCommands } from './strings';

let table: Map<string, CommandSpec> | undefined;

// MULTI, EXEC and DISCARD are run by the connection itself (they change how it runs commands);
// their entries here give them arity checks and COMMAND output.
const transactionCommands: CommandSpec[] = [
  command('multi', 1, ['fast'], () => undefined),
  command('exec', 1, [], () => undefined),
  command('discard', 1, ['fast'], () => undefined),
];

export function commandTable(): Map<string, CommandSpec> {
  if (table === undefined) {
    const all = [...connectionCommands, ...stringCommands, ...keyCommands, ...transactionCommands, ...replicationCommands,
      ...adminCommands(commandTable)];
    table = new Map(all.map((c) => [c.name, c]));
  }
  return table;
}
