import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** The openssl arguments of a new P-256 key without a passphrase, written to `keyFile`. */
export const newKeyArgs = (keyFile: string): string[] => [
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:prime256v1',
  '-nodes',
  '-keyout',
  keyFile,
];

/** A self-signed certificate for a test, valid for `days`, with extra openssl arguments. */
export async function selfSignedCert(
  o: { cert: string; key: string; subject: string; days?: number },
  extra: readonly string[] = [],
): Promise<void> {
  await pexec('openssl', [
    'req',
    '-x509',
    ...newKeyArgs(o.key),
    '-out',
    o.cert,
    '-days',
    String(o.days ?? 1),
    '-subj',
    o.subject,
    ...extra,
  ]);
}
