// ESM entry: the CommonJS build's exports under their own names.
import hashlog from '../dist/index.js';

export const { open, Store, HashlogError, createServer, Server, openShared, SharedStore } = hashlog;
export default hashlog;
