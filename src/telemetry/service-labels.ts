// The labels every per-service series carries: namespace, the ServerlessService, and the revision
// (left out for a unit that is no revision: a static setup, a test). Dashboards and alerts select by
// service and sum over revisions; a split shows per revision (Knative: service_name, revision_name).

// A type, not an interface: it must fit prom-client's index-signed Labels.
export type ServiceLabels = {
  readonly namespace: string;
  readonly service: string;
  readonly revision?: string;
};

export const SERVICE_LABEL_NAMES = ['namespace', 'service', 'revision'] as const;

/** The labels of a unit named `name`, a revision of `service` when that is given. */
export function serviceLabels(namespace: string, name: string, service: string | undefined): ServiceLabels {
  return service === undefined || service === ''
    ? { namespace, service: name }
    : { namespace, service, revision: name };
}
