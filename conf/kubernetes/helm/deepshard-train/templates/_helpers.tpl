{{/* The release's objects are named after the release (the chart's name appended unless the release has it). */}}
{{- define "deepshard-train.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "deepshard-train.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "deepshard-train.labels" -}}
{{ include "deepshard-train.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "deepshard-train.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "deepshard-train.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: the driver needs a service account (or set serviceAccount.create=true)" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where the ConfigMap's config.yaml appears in the driver and executor pods: TrainJob's first argument. */}}
{{- define "deepshard-train.configFile" -}}/opt/deepshard/job/config.yaml{{- end -}}
{{- define "deepshard-train.configDir" -}}{{ dir (include "deepshard-train.configFile" .) }}{{- end -}}

{{/* Pod settings shared by driver and executors. */}}
{{- define "deepshard-train.podCommon" -}}
env:
  - name: OMP_NUM_THREADS
    value: "1"
  - name: OPENBLAS_NUM_THREADS
    value: "1"
volumeMounts:
  - name: job-config
    mountPath: {{ include "deepshard-train.configDir" . }}
    readOnly: true
securityContext:
  runAsUser: 185
  runAsGroup: 185
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  capabilities:
    drop: [ALL]
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
