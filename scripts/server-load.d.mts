// Types of scripts/server-load.mjs, for the TypeScript test that runs it.
export interface LoadStats { reads: number; writes: number; pipelines: number }
export type Model = Map<string, string | null>;
export function runLoad(o: { port: number; seconds: number; clients?: number; slowReaders?: number }): Promise<{ stats: LoadStats; models: Model[] }>;
export function verify(port: number, models: Model[]): Promise<{ checked: number; lost: number; wrong: string[] }>;
