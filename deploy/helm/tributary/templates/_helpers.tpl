{{/*
The six services: HTTP port and the servers each one uses (its flags say so:
deploy/check verifies every variable set here against the service's -h).
*/}}
{{- define "tributary.services" -}}
ingest: {port: 8081, uses: [kafka, nats]}
features: {port: 8082, uses: [kafka, nats, redis, clickhouse]}
trainer: {port: 8083, uses: [nats]}
registry: {port: 8084, uses: [nats]}
serving: {port: 8085, uses: [kafka, nats, redis]}
monitor: {port: 8086, uses: [kafka, nats, clickhouse]}
{{- end -}}

{{- define "tributary.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tributary.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/part-of: tributary
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* selector labels of one service: (dict "root" $ "name" "ingest") */}}
{{- define "tributary.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "tributary.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tributary.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tributary.secretName" -}}
{{- default (printf "%s-config" (include "tributary.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{/* TRIBUTARY_* variable of a flag name: kafka.brokers -> TRIBUTARY_KAFKA_BROKERS */}}
{{- define "tributary.env" -}}
{{- printf "TRIBUTARY_%s" (. | upper | replace "." "_" | replace "-" "_") -}}
{{- end -}}

{{/* the name label of one service, beside tributary.labels */}}
{{- define "tributary.name" -}}
app.kubernetes.io/name: {{ .name }}
{{- end -}}
