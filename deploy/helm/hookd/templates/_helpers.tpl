{{/* The chart's name. */}}
{{- define "hookd.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name for every object. */}}
{{- define "hookd.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hookd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "hookd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one role's pods: call with (dict "ctx" $ "role" "api"). */}}
{{- define "hookd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hookd.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "hookd.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "hookd.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-secret" (include "hookd.fullname" .)) -}}
{{- end -}}

{{/* The environment of every hookd container. */}}
{{- define "hookd.env" -}}
- name: HOOKD_DB
  valueFrom:
    secretKeyRef: {name: {{ include "hookd.secretName" . }}, key: {{ .Values.secretKeys.databaseURL }}}
- name: HOOKD_ADMIN_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "hookd.secretName" . }}, key: {{ .Values.secretKeys.adminKey }}}
- name: HOOKD_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "hookd.secretName" . }}, key: {{ .Values.secretKeys.encryptionKey }}, optional: true}
- name: HOOKD_ADDR
  value: ":8080"
- name: HOOKD_LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
- name: HOOKD_HTTPS_ONLY
  value: {{ .Values.config.httpsOnly | quote }}
{{- with .Values.config.allowNetworks }}
- name: HOOKD_ALLOW_NETWORKS
  value: {{ . | quote }}
{{- end }}
{{- with .Values.config.publicURL }}
- name: HOOKD_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.config.retrySchedule }}
- name: HOOKD_RETRY_SCHEDULE
  value: {{ . | quote }}
{{- end }}
{{- with .Values.config.lease }}
- name: HOOKD_LEASE
  value: {{ . | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
