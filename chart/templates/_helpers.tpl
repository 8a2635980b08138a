{{/* Chart name, overridable. */}}
{{- define "router-hosts-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name of every object (63 characters at most, as labels need). */}}
{{- define "router-hosts-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "router-hosts-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that never change for a release: the Deployment selector. */}}
{{- define "router-hosts-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "router-hosts-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The recommended app.kubernetes.io labels except component. */}}
{{- define "router-hosts-operator.commonLabels" -}}
helm.sh/chart: {{ include "router-hosts-operator.chart" . }}
{{ include "router-hosts-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: router-hosts
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of every object but the metrics Service. */}}
{{- define "router-hosts-operator.labels" -}}
{{ include "router-hosts-operator.commonLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The ServiceAccount: ours when created, else the one named, else the namespace's "default" (as the Go chart). */}}
{{- define "router-hosts-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "router-hosts-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The operator image. A values file written for the router-hosts server (or
copied from its chart) may name the server image; that image would start
with the operator's arguments and crash-loop, so it is refused here.
*/}}
{{- define "router-hosts-operator.image" -}}
{{- if regexMatch "(^|/)router-hosts$" .Values.image.repository }}
{{- fail (printf "image.repository is %q, the router-hosts server image, not the operator: set image.repository to ghcr.io/fzymgc-house/router-hosts-operator (or remove it to use the chart's default)" .Values.image.repository) }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
"true" when leader election is on: leaderElection.enabled when set, else
replicaCount >= 2. Two active replicas would reconcile the same objects at
once, so that combination is refused.
*/}}
{{- define "router-hosts-operator.leaderElect" -}}
{{- $enabled := .Values.leaderElection.enabled }}
{{- if kindIs "bool" $enabled }}
{{- if and (not $enabled) (ge (int .Values.replicaCount) 2) }}
{{- fail (printf "replicaCount is %d but leaderElection.enabled is false: every replica would reconcile the same objects at once. Set leaderElection.enabled to true (or remove it), or set replicaCount to 1." (int .Values.replicaCount)) }}
{{- end }}
{{- $enabled }}
{{- else }}
{{- ge (int .Values.replicaCount) 2 }}
{{- end }}
{{- end }}

{{/* The metrics port taken from metrics.bindAddress; empty when metrics are off ("0"). */}}
{{- define "router-hosts-operator.metricsPort" -}}
{{- $addr := toString .Values.metrics.bindAddress }}
{{- if ne $addr "0" }}
{{- $port := regexFind "[0-9]+$" $addr }}
{{- if not (regexMatch ":[0-9]+$" $addr) }}
{{- fail (printf "metrics.bindAddress %q: want [host]:port, or \"0\" to disable metrics" $addr) }}
{{- end }}
{{- $port }}
{{- end }}
{{- end }}

{{/* Name of the Lease; fixed so a mixed upgrade from the Go operator never runs two leaders. */}}
{{- define "router-hosts-operator.leaseName" -}}
router-hosts-operator.fzymgc.house
{{- end }}

{{/* The namespaced rules: a ClusterRole without watchNamespaces, a Role in each of them with. */}}
{{- define "router-hosts-operator.watchRules" }}
  # Cache (list+watch) and the cleanup finalizer (patch).
  - apiGroups: ["router-hosts.fzymgc.house"]
    resources: ["hostmappings"]
    verbs: ["list", "watch", "patch"]
  # phase, message, hostId, conditions.
  - apiGroups: ["router-hosts.fzymgc.house"]
    resources: ["hostmappings/status"]
    verbs: ["patch"]
  # Cache, the cleanup finalizer and the router-hosts.fzymgc.house/host-ids annotation.
  - apiGroups: ["traefik.io"]
    resources: ["ingressroutes", "ingressroutetcps"]
    verbs: ["list", "watch", "patch"]
  {{- if .Values.gateway.enabled }}
  # Gateway API routes: cache, the cleanup finalizer and the host-ids annotation.
  - apiGroups: ["gateway.networking.k8s.io"]
    resources: ["httproutes", "grpcroutes", "tlsroutes"]
    verbs: ["list", "watch", "patch"]
  # Gateways: cached for their listeners and status.addresses (the routes' hostnames and IP).
  - apiGroups: ["gateway.networking.k8s.io"]
    resources: ["gateways"]
    verbs: ["list", "watch"]
  {{- end }}
  {{- if .Values.serviceController.enabled }}
  # Service source: cache, the cleanup finalizer and the host-ids annotation.
  - apiGroups: [""]
    resources: ["services"]
    verbs: ["list", "watch", "patch"]
  {{- end }}
  {{- if .Values.ingress.enabled }}
  # Ingress source: cache, the cleanup finalizer and the host-ids annotation.
  - apiGroups: ["networking.k8s.io"]
    resources: ["ingresses"]
    verbs: ["list", "watch", "patch"]
  {{- end }}
  # Events on the reconciled objects, in their namespaces; patch counts a repeated event.
  - apiGroups: ["events.k8s.io"]
    resources: ["events"]
    verbs: ["create", "patch"]
{{- end }}

{{/* Namespaces (cluster-scoped), with the Gateway API: cached for their labels (listeners' allowedRoutes.namespaces.selector). */}}
{{- define "router-hosts-operator.namespaceRules" }}
  # Namespaces: cached for their labels (listeners' allowedRoutes.namespaces.selector).
  - apiGroups: [""]
    resources: ["namespaces"]
    verbs: ["list", "watch"]
{{- end }}

{{/*
The webhook port taken from webhook.bindAddress when it is a network bind
(webhook.allowNetworkBind); empty when the webhook is off or on loopback,
which no NetworkPolicy or Service needs to name. A network bind without
allowNetworkBind fails here, as the operator would at start.
*/}}
{{- define "router-hosts-operator.webhookNetworkPort" -}}
{{- $addr := toString .Values.webhook.bindAddress }}
{{- if and (ne $addr "") (ne $addr "0") }}
{{- $loopback := regexMatch "^(127\\.[0-9.]+|\\[::1\\]|localhost):[0-9]+$" $addr }}
{{- if not $loopback }}
{{- if not .Values.webhook.allowNetworkBind }}
{{- fail (printf "webhook.bindAddress %q is not a loopback address: the webhook API has no authentication, so anyone who reaches the port can create and delete hosts entries. Use 127.0.0.1:8888 with external-dns in this pod (extraContainers), or set webhook.allowNetworkBind=true to accept the risk (and networkPolicy.enabled=true to restrict it)" $addr) }}
{{- end }}
{{- regexFind "[0-9]+$" $addr }}
{{- end }}
{{- end }}
{{- end }}
