// Certificates and keys of the local cluster, made once with Debian's openssl: a CA, the
// apiserver's serving certificate (valid for loopback, the bridge address and the in-cluster
// names), an admin client certificate in system:masters, and the service-account signing key.

import fs from 'node:fs';
import path from 'node:path';
import { run } from './node-agent/exec.ts';
import { network, paths } from './paths.ts';

export const pkiFiles = {
  caCert: path.join(paths.pki, 'ca.crt'),
  caKey: path.join(paths.pki, 'ca.key'),
  apiCert: path.join(paths.pki, 'apiserver.crt'),
  apiKey: path.join(paths.pki, 'apiserver.key'),
  adminCert: path.join(paths.pki, 'admin.crt'),
  adminKey: path.join(paths.pki, 'admin.key'),
  saKey: path.join(paths.pki, 'sa.key'),
  saPub: path.join(paths.pki, 'sa.pub'),
} as const;

async function signed(name: string, subject: string, extensions: string): Promise<void> {
  const key = path.join(paths.pki, `${name}.key`);
  const csr = path.join(paths.pki, `${name}.csr`);
  const ext = path.join(paths.pki, `${name}.ext`);
  fs.writeFileSync(ext, extensions);
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    subject,
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pkiFiles.caCert,
    '-CAkey',
    pkiFiles.caKey,
    '-CAcreateserial',
    '-out',
    path.join(paths.pki, `${name}.crt`),
    '-days',
    '3650',
    '-extfile',
    ext,
  ]);
  fs.rmSync(csr);
  fs.rmSync(ext);
}

/** Creates whatever is missing; an existing, complete set is kept so kubeconfigs stay valid. */
export async function ensurePki(): Promise<void> {
  if (Object.values(pkiFiles).every((f) => fs.existsSync(f))) return;
  fs.rmSync(paths.pki, { recursive: true, force: true });
  fs.mkdirSync(paths.pki, { recursive: true, mode: 0o700 });
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    pkiFiles.caKey,
    '-out',
    pkiFiles.caCert,
    '-days',
    '3650',
    '-subj',
    '/CN=zeroscale-local-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  const sans = [
    'IP:127.0.0.1',
    `IP:${network.hostIp}`,
    'IP:10.96.0.1',
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
  ];
  await signed(
    'apiserver',
    '/CN=kube-apiserver',
    `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
  );
  await signed(
    'admin',
    '/O=system:masters/CN=zeroscale-admin',
    'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  await run('openssl', ['genrsa', '-out', pkiFiles.saKey, '2048']);
  await run('openssl', ['rsa', '-in', pkiFiles.saKey, '-pubout', '-out', pkiFiles.saPub]);
}

export function adminKubeconfig(apiPort: number): string {
  const b64 = (f: string) => fs.readFileSync(f).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: zeroscale-local
  cluster:
    server: https://127.0.0.1:${apiPort}
    certificate-authority-data: ${b64(pkiFiles.caCert)}
users:
- name: zeroscale-admin
  user:
    client-certificate-data: ${b64(pkiFiles.adminCert)}
    client-key-data: ${b64(pkiFiles.adminKey)}
contexts:
- name: zeroscale-local
  context:
    cluster: zeroscale-local
    user: zeroscale-admin
    namespace: default
current-context: zeroscale-local
`;
}
