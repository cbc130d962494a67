// hashlog: a persistent key-value store with O(1) get, put and del.
export { open, Store } from './store';
export { openShared, SharedStore } from './shared';
export type { SharedHandle } from './shared';
export type { Key, Value, StoreStats, StoreStatus, RecoveryReport, BatchOperation, ScanPage, EngineName } from './store';
export type { OpenOptions, Durability, PutOptions, EngineChoice } from './options';
export type { BackupReport } from './backup';
export { HashlogError } from './errors';
export { createServer, Server } from './server/server';
export type { ServerOptions } from './server/server';
export type { ErrorCode, CodedTypeError, CodedRangeError } from './errors';
