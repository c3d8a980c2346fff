// Throwaway credentials for the bridge's security tests, made in a test's
// temporary directory: a certificate authority, a server certificate for
// 127.0.0.1 and a client certificate (openssl), and a NATS operator, account
// and user with the user's credentials file (@nats-io/jwt, signed NKeys as
// nats-server's operator mode checks them).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';

function openssl(directory, args) {
  const result = spawnSync('openssl', args, { cwd: directory, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * ca.pem (the authority); server.pem and server-key.pem (127.0.0.1, signed
 * by it); client.pem and client-key.pem (a client certificate signed by it,
 * for a server that verifies clients); absolute paths.
 */
export function makeTlsFiles(directory) {
  openssl(directory, ['req', '-x509', ...EC_KEY, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=tsshmem test CA']);
  signedCertificate(directory, 'server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\n');
  signedCertificate(directory, 'client', '/CN=tsshmem bridge', 'extendedKeyUsage=clientAuth\n');
  const path = (file) => join(directory, file);
  return { ca: path('ca.pem'), cert: path('server.pem'), key: path('server-key.pem'), clientCert: path('client.pem'), clientKey: path('client-key.pem') };
}

/** NAME.pem and NAME-key.pem: a new key and its certificate signed by ca.pem, with the given extensions. */
function signedCertificate(directory, name, subject, extensions) {
  openssl(directory, ['req', ...EC_KEY, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(directory, `${name}.ext`), extensions);
  openssl(directory, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`]);
}

/**
 * An operator-mode server configuration (its operator JWT and the account's
 * JWT preloaded in a memory resolver), the credentials file of a user of
 * that account, and the credentials file of a user of an account the server
 * does not know.
 */
export async function makeOperatorCredentials(directory) {
  const operator = createOperator();
  const account = createAccount();
  const system = createAccount(); // JetStream in operator mode needs a system account
  writeFileSync(join(directory, 'operator.jwt'), await encodeOperator('tsshmem-test', operator, { system_account: system.getPublicKey() }));
  const accountJwt = await encodeAccount('bridge', account, { limits: ACCOUNT_LIMITS }, { signer: operator });
  const systemJwt = await encodeAccount('system', system, {}, { signer: operator });
  const config = [
    `operator: ${JSON.stringify(join(directory, 'operator.jwt'))}`,
    `system_account: ${system.getPublicKey()}`,
    'resolver: MEMORY',
    `resolver_preload: { ${account.getPublicKey()}: ${JSON.stringify(accountJwt)}, ${system.getPublicKey()}: ${JSON.stringify(systemJwt)} }`,
    '',
  ].join('\n');
  const creds = await userCredentials(directory, 'user.creds', account);
  const strangerCreds = await userCredentials(directory, 'stranger.creds', createAccount());
  return { config, creds, strangerCreds };
}

/** No limit on anything, JetStream included (an account's limits are 0 unless its JWT says otherwise). */
const ACCOUNT_LIMITS = {
  conn: -1,
  leaf: -1,
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
};

async function userCredentials(directory, file, account) {
  const user = createUser();
  const path = join(directory, file);
  writeFileSync(path, fmtCreds(await encodeUser(file, user, account), user));
  return path;
}
