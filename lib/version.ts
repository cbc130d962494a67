// The package's version, read once from package.json (one source of truth).
import fs from 'node:fs';
import path from 'node:path';

export const VERSION: string = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as {
  version: string;
}).version;
