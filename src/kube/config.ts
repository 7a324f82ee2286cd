// Where a component finds the apiserver: an explicit kubeconfig (flag or KUBECONFIG), else the
// in-cluster ServiceAccount. The entry point reads the environment and passes it in.

import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from './rest.ts';

export function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromCluster();
  return kc;
}

export function createKubeClient(kubeconfigPath: string | undefined): KubeClient {
  return new KubeClient(loadKubeConfig(kubeconfigPath));
}
