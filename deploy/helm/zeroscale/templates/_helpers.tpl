{{- define "zeroscale.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "zeroscale.labels" -}}
app.kubernetes.io/name: zeroscale
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "zeroscale.versionLabels" . }}
{{- end -}}

{{/* The labels that are not part of a selector (pod templates add them to the selector's). */}}
{{- define "zeroscale.versionLabels" -}}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "zeroscale.selector" -}}
app.kubernetes.io/name: zeroscale
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Pod-level hardening shared by every component. */}}
{{- define "zeroscale.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "zeroscale.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "zeroscale.commonEnv" -}}
- name: POD_NAME
  valueFrom: { fieldRef: { fieldPath: metadata.name } }
- name: POD_NAMESPACE
  valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
- name: POD_IP
  valueFrom: { fieldRef: { fieldPath: status.podIP } }
- name: ZEROSCALE_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: ZEROSCALE_IMAGE_TAG
  value: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
{{- end -}}

{{/* The internal token from the chart's Secret (activator and controller). */}}
{{- define "zeroscale.internalTokenEnv" -}}
- name: ZEROSCALE_INTERNAL_TOKEN
  valueFrom: { secretKeyRef: { name: zeroscale-internal-token, key: token } }
{{- end -}}

{{- define "zeroscale.metricsAnnotations" -}}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: "9090"
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{- define "zeroscale.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
