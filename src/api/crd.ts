// The ServerlessService CustomResourceDefinition, built from the zod schemas, and its YAML as
// committed under crds/ (regenerate with `node src/api/generate-crd.ts`).

import type {
  V1CustomResourceColumnDefinition,
  V1CustomResourceDefinitionNames,
} from '@kubernetes/client-node';
import { dumpYaml, loadYaml } from '@kubernetes/client-node';
import { type JsonSchema, toStructuralSchema } from './openapi.ts';
import {
  REVISION_KIND,
  REVISION_LIST_KIND,
  REVISION_PLURAL,
  REVISION_SHORT_NAMES,
  REVISION_SINGULAR,
} from './revision.ts';
import {
  GROUP,
  KIND,
  LIST_KIND,
  PLURAL,
  RevisionNameSchema,
  RevisionSpecSchema,
  ServerlessServiceSpecSchema,
  ServiceNameSchema,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from './serverless-service.ts';
import { RevisionStatusSchema, ServerlessServiceStatusSchema } from './status.ts';

export const CRD_NAME = `${PLURAL}.${GROUP}`;
/** Path of the generated file, relative to the repository root. */
export const CRD_FILE = `crds/${GROUP}_${PLURAL}.yaml`;
export const REVISION_CRD_NAME = `${REVISION_PLURAL}.${GROUP}`;
export const REVISION_CRD_FILE = `crds/${GROUP}_${REVISION_PLURAL}.yaml`;

/** The CRD in wire form (the shape kubectl and server-side apply take). */
export interface CustomResourceDefinitionManifest {
  readonly apiVersion: 'apiextensions.k8s.io/v1';
  readonly kind: 'CustomResourceDefinition';
  readonly metadata: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
  readonly spec: {
    readonly group: string;
    readonly names: V1CustomResourceDefinitionNames;
    readonly scope: 'Namespaced';
    readonly versions: readonly {
      readonly name: string;
      readonly served: boolean;
      readonly storage: boolean;
      readonly subresources: { readonly status: Record<string, never> };
      readonly additionalPrinterColumns: readonly V1CustomResourceColumnDefinition[];
      readonly schema: { readonly openAPIV3Schema: JsonSchema };
    }[];
  };
}

const readyCondition = '.status.conditions[?(@.type=="Ready")]';

export const PRINTER_COLUMNS: readonly V1CustomResourceColumnDefinition[] = [
  { name: 'URL', type: 'string', jsonPath: '.status.url' },
  {
    name: 'Latest',
    type: 'string',
    jsonPath: '.status.latestReadyRevisionName',
    description: 'the latest ready revision',
  },
  {
    name: 'Traffic',
    type: 'string',
    jsonPath: '.status.trafficSummary',
    description: 'revision=percent of the split',
  },
  { name: 'Ready', type: 'string', jsonPath: `${readyCondition}.status` },
  { name: 'Reason', type: 'string', jsonPath: `${readyCondition}.reason`, priority: 1 },
  {
    name: 'Replicas',
    type: 'string',
    jsonPath: '.status.replicasSummary',
    description: 'ready/desired pods',
  },
  {
    name: 'Mode',
    type: 'string',
    jsonPath: '.status.mode',
    description: 'proxy: via the activator; serve: direct',
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

export const REVISION_PRINTER_COLUMNS: readonly V1CustomResourceColumnDefinition[] = [
  { name: 'Service', type: 'string', jsonPath: '.metadata.labels.serving\\.zeroscale\\.dev/service' },
  {
    name: 'Routing',
    type: 'string',
    jsonPath: '.metadata.labels.serving\\.zeroscale\\.dev/routing-state',
    description: 'active: traffic reaches it; reserve: none does',
  },
  { name: 'Ready', type: 'string', jsonPath: `${readyCondition}.status` },
  { name: 'Reason', type: 'string', jsonPath: `${readyCondition}.reason` },
  {
    name: 'Replicas',
    type: 'string',
    jsonPath: '.status.replicasSummary',
    description: 'ready/desired pods',
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

export function buildRevisionOpenApiSchema(): JsonSchema {
  return {
    type: 'object',
    description: 'An immutable snapshot of a ServerlessService template: it runs and scales on its own.',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object', properties: { name: toStructuralSchema(RevisionNameSchema) } },
      spec: toStructuralSchema(RevisionSpecSchema),
      status: toStructuralSchema(RevisionStatusSchema),
    },
  };
}

export function buildOpenApiSchema(): JsonSchema {
  return {
    type: 'object',
    description: 'Runs a container image behind a stable address, scaled on request load, down to zero.',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      // Only name and generateName may be constrained here; ours must leave room for "-private".
      metadata: { type: 'object', properties: { name: toStructuralSchema(ServiceNameSchema) } },
      spec: toStructuralSchema(ServerlessServiceSpecSchema),
      status: toStructuralSchema(ServerlessServiceStatusSchema),
    },
  };
}

interface CrdParts {
  readonly name: string;
  readonly names: V1CustomResourceDefinitionNames;
  readonly columns: readonly V1CustomResourceColumnDefinition[];
  readonly schema: JsonSchema;
}

function buildCrd(p: CrdParts): CustomResourceDefinitionManifest {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: p.name, labels: { 'app.kubernetes.io/part-of': 'zeroscale' } },
    spec: {
      group: GROUP,
      names: p.names,
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: p.columns,
          schema: { openAPIV3Schema: p.schema },
        },
      ],
    },
  };
}

export function buildServerlessServiceCrd(): CustomResourceDefinitionManifest {
  return buildCrd({
    name: CRD_NAME,
    names: {
      kind: KIND,
      listKind: LIST_KIND,
      plural: PLURAL,
      singular: SINGULAR,
      shortNames: [...SHORT_NAMES],
      categories: ['zeroscale'],
    },
    columns: PRINTER_COLUMNS,
    schema: buildOpenApiSchema(),
  });
}

export function buildRevisionCrd(): CustomResourceDefinitionManifest {
  return buildCrd({
    name: REVISION_CRD_NAME,
    names: {
      kind: REVISION_KIND,
      listKind: REVISION_LIST_KIND,
      plural: REVISION_PLURAL,
      singular: REVISION_SINGULAR,
      shortNames: [...REVISION_SHORT_NAMES],
      categories: ['zeroscale'],
    },
    columns: REVISION_PRINTER_COLUMNS,
    schema: buildRevisionOpenApiSchema(),
  });
}

/** Every generated CRD file and its content. */
export function generatedCrdFiles(): { file: string; yaml: string }[] {
  return [
    { file: CRD_FILE, yaml: renderCrdYaml(buildServerlessServiceCrd()) },
    { file: REVISION_CRD_FILE, yaml: renderCrdYaml(buildRevisionCrd()) },
  ];
}

const HEADER = '# Generated by src/api/generate-crd.ts from the zod schemas in src/api/. Do not edit.\n';

/**
 * The CRD as YAML. dumpYaml serializes client-node's typed models, so the wire form is first
 * read into them (loadYaml takes JSON, as JSON is YAML); it comes out again in canonical key order.
 */
export function renderCrdYaml(crd: CustomResourceDefinitionManifest = buildServerlessServiceCrd()): string {
  return HEADER + dumpYaml(loadYaml(JSON.stringify(crd)), { lineWidth: -1, noRefs: true });
}
