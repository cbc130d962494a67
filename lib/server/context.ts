// What a command handler sees: its connection's session, the keyspace, the reply writer and
// the server. Handlers are synchronous; writes go through the keyspace and are committed by
// the connection after the handler returns.
import type { ReplyWriter } from '../resp/reply';
import type { Store } from '../store';
import type { Keyspace } from './keyspace';
import type { FeedSink } from './replication/feed';
import type { Replication } from './replication/replication';

/** One client connection's state, as CLIENT LIST and HELLO show it. */
export interface Session {
  readonly id: number;
  readonly address: string;
  readonly createdAt: number;
  name: string;
  libName: string;
  libVersion: string;
  protocol: 2 | 3;
  authenticated: boolean;
  lastCommand: string;
  lastActive: number;
  inMulti: boolean;
}

/** Counters for INFO stats. */
export interface ServerStats {
  connectionsReceived: number;
  commandsProcessed: number;
  rejectedConnections: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  protocolErrors: number;
  errorReplies: number;
}

export function newServerStats(): ServerStats {
  return {
    connectionsReceived: 0, commandsProcessed: 0, rejectedConnections: 0, keyspaceHits: 0, keyspaceMisses: 0,
    protocolErrors: 0, errorReplies: 0,
  };
}

/** The server settings commands can read (CONFIG GET, INFO, HELLO). */
export interface ServerSettings {
  host: string;
  port: number;
  requirepass: string | undefined;
  maxClients: number;
  timeoutSeconds: number;
  maxBulkLength: number;
  tls: boolean;
}

/** What commands may ask of the server. */
export interface ServerApi {
  readonly store: Store;
  readonly settings: ServerSettings;
  readonly stats: ServerStats;
  readonly startedAt: number;
  lastSave: number;
  /** Whether the last SAVE/BGSAVE checkpoint succeeded (INFO rdb_last_bgsave_status). */
  lastSaveOk: boolean;
  /** Why the store stopped accepting writes, if it did (fail-stop). */
  failure(): Error | undefined;
  sessions(): Iterable<Session>;
  /** Holds every connection's next command until `work` settles (FLUSHDB: reads must not see the old keys). */
  barrier(work: Promise<unknown>): Promise<unknown>;
  /** The promise of the newest write in flight, if any (the read barrier). */
  pendingWrites(): Promise<unknown> | undefined;
  /** 'replica' while this server follows a primary (every thread knows it). */
  role(): 'master' | 'replica';
  /** Role, feeds to replicas, the link to a primary (owner thread only). */
  readonly replication: Replication;
  /** Stops the server gracefully after the current replies are out. */
  shutdown(reason: string): void;
  log(message: string): void;
}

export interface Context {
  readonly ks: Keyspace;
  readonly w: ReplyWriter;
  readonly session: Session;
  readonly server: ServerApi;
  /** Close this connection once its replies are written (QUIT). */
  closeAfterReply(): void;
  /** This connection as the sink of a replication feed (HASHLOG.SYNC). */
  readonly sink: FeedSink;
}

/** A reply known only later (WAIT): written, in its place in the order, when it resolves. */
export interface LateReply {
  late: Promise<(w: ReplyWriter) => void>;
}

/** A command's result: nothing (the reply is written), work the reply waits for, or a late reply. */
export type CommandResult = void | Promise<unknown> | LateReply;

export interface CommandSpec {
  /** Lower-case name. */
  readonly name: string;
  /** Redis's arity: N exactly N arguments (with the name), -N at least N. */
  readonly arity: number;
  readonly flags: readonly string[];
  /** Positions of the first and last key argument and the step between keys (COMMAND INFO). */
  readonly keys: readonly [number, number, number];
  readonly run: (ctx: Context, args: Buffer[]) => CommandResult;
}

/** Builds a CommandSpec (keys default to none). */
export function command(name: string, arity: number, flags: string[], run: CommandSpec['run'],
  keys: [number, number, number] = [0, 0, 0]): CommandSpec {
  return { name, arity, flags, keys, run };
}
