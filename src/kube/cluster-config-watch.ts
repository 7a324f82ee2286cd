// The cluster ConfigMap (zeroscale-config), watched: the controller, the autoscaler and the
// activator resolve services over its defaults and read the current ClusterConfig from here. An invalid ConfigMap is logged and the
// previous configuration is kept, so a typo never takes a running component down.

import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  type ClusterConfig,
  CONFIG_MAP_NAME,
  parseClusterConfig,
  unknownConfigKeys,
} from '../api/cluster-config.ts';
import { Informer } from './informer.ts';
import { kubePaths } from './paths.ts';
import type { KubeClient } from './rest.ts';

export interface ClusterConfigWatchOptions {
  readonly systemNamespace: string;
  readonly imageTag: string;
  /** The install's internal token, passed on to every queue-proxy (see ConfigOptions). */
  readonly internalToken?: string | undefined;
  readonly log: Logger;
  /** Called after every change that was applied. */
  readonly onChange?: () => void;
}

export class ClusterConfigWatch {
  readonly informer: Informer<V1ConfigMap>;
  #config: ClusterConfig;

  constructor(client: KubeClient, o: ClusterConfigWatchOptions) {
    const options = { imageTag: o.imageTag, internalToken: o.internalToken };
    this.#config = parseClusterConfig({}, options);
    this.informer = new Informer<V1ConfigMap>(client, {
      path: kubePaths.configMaps(o.systemNamespace),
      fieldSelector: `metadata.name=${CONFIG_MAP_NAME}`,
      onError: (err) => o.log.warn({ err: String(err) }, 'ConfigMap watch failed; resuming'),
    });
    this.informer.on((event, cm) => {
      const data = event === 'delete' ? {} : (cm.data ?? {});
      try {
        this.#config = parseClusterConfig(data, options);
      } catch (err) {
        o.log.error(
          { err: String(err) },
          `ConfigMap ${CONFIG_MAP_NAME} is invalid; keeping the previous configuration`,
        );
        return;
      }
      const unknown = unknownConfigKeys(data);
      if (unknown.length)
        o.log.warn({ keys: unknown }, `ConfigMap ${CONFIG_MAP_NAME} has keys zeroscale does not know`);
      o.onChange?.();
    });
  }

  get current(): ClusterConfig {
    return this.#config;
  }
}
