#!/usr/bin/env bash
# Makes the admission webhook's TLS certificate without cert-manager: a new CA, and a certificate
# it signs for the Service (image-existence-exporter.kube-system.svc); stores certificate and key in
# the Secret that 20-deployment.yaml mounts, and writes the CA into the caBundle of the
# ValidatingWebhookConfiguration (apply deploy/admission/ first). Run it again to renew (before DAYS
# run out); the exporter re-reads the certificate while running. The CA's key is not kept.
#
#   deploy/admission/make-certificate.sh
#
# Environment (defaults in brackets): NAMESPACE [kube-system], SERVICE [image-existence-exporter],
# SECRET [image-existence-exporter-webhook-tls], WEBHOOK [image-existence-exporter], DAYS [365],
# EXTRA_SANS (more subjectAltName entries, e.g. IP:127.0.0.1), KUBECTL [kubectl],
# OUT_DIR (keep ca.crt, tls.crt and tls.key there; default a temporary folder, removed).
set -euo pipefail

NAMESPACE="${NAMESPACE:-kube-system}"
SERVICE="${SERVICE:-image-existence-exporter}"
SECRET="${SECRET:-image-existence-exporter-webhook-tls}"
WEBHOOK="${WEBHOOK:-image-existence-exporter}"
DAYS="${DAYS:-365}"
KUBECTL="${KUBECTL:-kubectl}"
if [[ -n ${OUT_DIR:-} ]]; then
  mkdir -p "$OUT_DIR"
  dir="$OUT_DIR"
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi

dns="$SERVICE.$NAMESPACE.svc"
sans="DNS:$dns,DNS:$dns.cluster.local${EXTRA_SANS:+,$EXTRA_SANS}"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.crt" -days "$DAYS" -sha256 \
  -subj "/CN=$SERVICE webhook CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$dir/tls.key" -out "$dir/tls.csr" -subj "/CN=$dns" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$sans" >"$dir/tls.ext"
openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 12)" \
  -days "$DAYS" -sha256 -extfile "$dir/tls.ext" -out "$dir/tls.crt" 2>/dev/null
rm -f "$dir/ca.key" "$dir/tls.csr" "$dir/tls.ext"

"$KUBECTL" -n "$NAMESPACE" create secret tls "$SECRET" --cert="$dir/tls.crt" --key="$dir/tls.key" --dry-run=client -o yaml | "$KUBECTL" apply -f -
ca_bundle=$(base64 <"$dir/ca.crt" | tr -d '\n')
"$KUBECTL" patch validatingwebhookconfiguration "$WEBHOOK" --type=json \
  -p "[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$ca_bundle\"}]"
echo "certificate for $sans valid $DAYS days; caBundle of validatingwebhookconfiguration/$WEBHOOK set" >&2
