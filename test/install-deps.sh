#!/usr/bin/env bash
# Installs the Debian packages the tests start for real: the CNCF distribution registry,
# htpasswd (Basic auth), Prometheus and promtool, openssl (test CAs), setpriv (child cleanup),
# Chromium (the status page in a real browser), kubectl (kustomize rendering of deploy/), pre-commit
# (the hooks of .pre-commit-hooks.yaml, run by the real tool), skopeo (the oracle for registries.conf),
# containerd and ctr (the oracle for hosts.toml, run as a daemon of the test's own).
set -euo pipefail
missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v promtool >/dev/null || missing+=(prometheus)
command -v openssl >/dev/null || missing+=(openssl)
command -v setpriv >/dev/null || missing+=(util-linux)
command -v chromium >/dev/null || missing+=(chromium)
command -v kubectl >/dev/null || missing+=(kubernetes-client)
command -v pre-commit >/dev/null || missing+=(pre-commit)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v ctr >/dev/null || missing+=(containerd)
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# No recommends: the prometheus package would pull in exporters we never start.
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
# The packages may start system services on install; the tests run their own instances.
if command -v systemctl >/dev/null 2>&1; then
  $sudo systemctl stop docker-registry prometheus containerd >/dev/null 2>&1 || true
fi
