// TLS: the server speaks RESP over node:tls with a certificate and key.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpdir } from '../helpers/tmpdir';
import { startServer } from './helpers';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.warn('openssl is not installed: skipping the TLS test (it makes a self-signed certificate)');

describe.skipIf(!hasOpenssl)('TLS', () => {
  it('serves clients over TLS', async () => {
    const dir = tmpdir();
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=localhost'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const t = await startServer({}, { tls: { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } });
    const c = t.client({ tls: { ca: fs.readFileSync(cert), servername: 'localhost' } });
    expect(await c.set('secure', 'yes')).toBe('OK');
    expect(await c.get('secure')).toBe('yes');
    await t.stop();
  });
});
