// Certificates and keys of the local cluster, made once with Debian's openssl: a CA, the
// apiserver's serving certificate (valid for loopback, the bridge address and the in-cluster
// names), an admin client certificate in system:masters, the service-account signing key, and for
// the node: kubelet's client certificate (system:node:<name>), its serving certificate, and the
// apiserver's client certificate for kubelet's API (logs, exec, port-forward).

import fs from 'node:fs';
import path from 'node:path';
import { run } from './exec.ts';
import { network, nodeName, paths } from './paths.ts';

export const pkiFiles = {
  caCert: path.join(paths.pki, 'ca.crt'),
  caKey: path.join(paths.pki, 'ca.key'),
  apiCert: path.join(paths.pki, 'apiserver.crt'),
  apiKey: path.join(paths.pki, 'apiserver.key'),
  adminCert: path.join(paths.pki, 'admin.crt'),
  adminKey: path.join(paths.pki, 'admin.key'),
  saKey: path.join(paths.pki, 'sa.key'),
  saPub: path.join(paths.pki, 'sa.pub'),
  kubeletClientCert: path.join(paths.pki, 'kubelet-client.crt'),
  kubeletClientKey: path.join(paths.pki, 'kubelet-client.key'),
  kubeletServingCert: path.join(paths.pki, 'kubelet-serving.crt'),
  kubeletServingKey: path.join(paths.pki, 'kubelet-serving.key'),
  apiserverKubeletClientCert: path.join(paths.pki, 'apiserver-kubelet-client.crt'),
  apiserverKubeletClientKey: path.join(paths.pki, 'apiserver-kubelet-client.key'),
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
  const client = 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n';
  await signed('kubelet-client', `/O=system:nodes/CN=system:node:${nodeName}`, client);
  await signed(
    'kubelet-serving',
    `/CN=${nodeName}`,
    `subjectAltName=IP:${network.hostIp},DNS:${nodeName}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
  );
  await signed('apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', client);
  await run('openssl', ['genrsa', '-out', pkiFiles.saKey, '2048']);
  await run('openssl', ['rsa', '-in', pkiFiles.saKey, '-pubout', '-out', pkiFiles.saPub]);
}

export function adminKubeconfig(apiPort: number): string {
  return kubeconfig(apiPort, 'zeroscale-admin', pkiFiles.adminCert, pkiFiles.adminKey);
}

/** kubelet's kubeconfig: the node's own identity, which the Node authorizer checks. */
export function kubeletKubeconfig(apiPort: number): string {
  return kubeconfig(
    apiPort,
    `system:node:${nodeName}`,
    pkiFiles.kubeletClientCert,
    pkiFiles.kubeletClientKey,
  );
}

function kubeconfig(apiPort: number, user: string, cert: string, key: string): string {
  const b64 = (f: string) => fs.readFileSync(f).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: zeroscale-local
  cluster:
    server: https://127.0.0.1:${apiPort}
    certificate-authority-data: ${b64(pkiFiles.caCert)}
users:
- name: ${user}
  user:
    client-certificate-data: ${b64(cert)}
    client-key-data: ${b64(key)}
contexts:
- name: zeroscale-local
  context:
    cluster: zeroscale-local
    user: ${user}
    namespace: default
current-context: zeroscale-local
`;
}
