#!/usr/bin/env bash
# Builds a real kube-apiserver (Kubernetes 1.20.2, from Debian bookworm's source package) once,
# for the benchmarks in bench/ that run the exporter against a real API server and etcd.
# Prints the binary's path on stdout; everything else goes to stderr. Idempotent: a cached binary
# that answers --version is reused, and only missing apt packages are installed.
#
# Benchmark only: neither CI nor the tests run this. Needs Debian bookworm, root (or the packages
# already installed), and a reachable Debian mirror with a deb-src entry (added here if missing).
#
#   K8S_BENCH_CACHE   where the binary is cached (default ~/.cache/k8s-image-existence-exporter)
#   KEEP_SOURCE=1     keep the unpacked source and Go build cache after a successful build
set -euo pipefail

VERSION=1.20.2
CACHE_DIR="${K8S_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-image-existence-exporter}"
BINARY="$CACHE_DIR/kube-apiserver-$VERSION"
GO_ROOT=/usr/lib/go-1.19
REFLECT2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2
RUNTIME_PACKAGES=(etcd-server openssl)
BUILD_PACKAGES=(golang-1.19-go rsync patch dpkg-dev golang-github-modern-go-reflect2-dev make)

log() { echo "kube-apiserver.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

APT_UPDATED=
apt_install() {
  local missing
  missing=$(missing_packages "$@")
  [[ -z $missing ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "missing packages ($(echo $missing)) and not root: install them with apt-get first"
  command -v apt-get >/dev/null || die "apt-get not found: this script needs Debian (bookworm)"
  if [[ -z $APT_UPDATED ]]; then
    log "apt-get update"
    apt-get update -q >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "installing: $(echo $missing)"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2 || die "apt-get install $(echo $missing) failed"
}

# deb-src for bookworm, written like the existing deb entry (deb822 .sources or one-line .list).
ensure_deb_src() {
  if grep -rqsE '^(Types:.*deb-src|deb-src .*bookworm)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "no deb-src entry for bookworm in /etc/apt and not root to add one"
  if grep -qsE '^Suites:.*\bbookworm\b' /etc/apt/sources.list.d/debian.sources; then
    log "adding deb-src entry /etc/apt/sources.list.d/debian-src.sources"
    # The first stanza of debian.sources with Types: deb-src.
    awk 'BEGIN{RS=""; ORS="\n\n"} NR==1 {sub(/Types:[^\n]*/, "Types: deb-src"); print}' \
      /etc/apt/sources.list.d/debian.sources >/etc/apt/sources.list.d/debian-src.sources
  else
    local line
    line=$(grep -hsE '^deb [^ ]*debian[^ ]* bookworm main' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | head -n1 || true)
    [[ -n $line ]] || die "found no bookworm deb entry in /etc/apt to derive a deb-src entry from"
    log "adding deb-src entry /etc/apt/sources.list.d/debian-src.list"
    echo "deb-src${line#deb}" >/etc/apt/sources.list.d/debian-src.list
  fi
  apt-get update -q >&2 || die "apt-get update failed after adding deb-src"
  APT_UPDATED=1
}

apt_install "${RUNTIME_PACKAGES[@]}"

if [[ -x $BINARY ]] && "$BINARY" --version >/dev/null 2>&1; then
  log "cached: $("$BINARY" --version)"
  echo "$BINARY"
  exit 0
fi

[[ -r /etc/os-release ]] && grep -q 'VERSION_CODENAME=bookworm' /etc/os-release \
  || log "warning: not Debian bookworm; the source package and Go 1.19 may not be there"

apt_install "${BUILD_PACKAGES[@]}"
[[ -x $GO_ROOT/bin/go ]] || die "$GO_ROOT/bin/go not found after installing golang-1.19-go"
[[ -f $REFLECT2_SRC/reflect2.go ]] || die "$REFLECT2_SRC not found after installing golang-github-modern-go-reflect2-dev"
ensure_deb_src

WORK="$CACHE_DIR/build"
rm -rf "$WORK"
mkdir -p "$WORK/src"
cd "$WORK/src"
log "apt-get source kubernetes into $WORK/src"
apt-get source --download-only kubernetes >&2 \
  || die "apt-get source --download-only kubernetes failed (no deb-src, or the mirror is unreachable)"
DSC=$(ls kubernetes_*.dsc 2>/dev/null | head -n1)
[[ -n $DSC ]] || die "no kubernetes .dsc downloaded"
case "$DSC" in
  *really$VERSION*|*_$VERSION-*) ;;
  *) die "Debian's kubernetes source is $DSC, not $VERSION: update VERSION in this script after checking it builds" ;;
esac
dpkg-source -x "$DSC" "$WORK/k8s" >&2 || die "dpkg-source -x $DSC failed"
SRC="$WORK/k8s"

# Kubernetes 1.20 vendors modern-go/reflect2 1.0.1, which crashes under Go >= 1.18 (nil pointer in
# reflect2.Type2 on the first JSON map decode, so every create fails). Use Debian's 1.0.2 instead.
V="$SRC/vendor/github.com/modern-go/reflect2"
[[ -d $V ]] || die "$V not in the source: the reflect2 fix no longer applies"
rm -f "$V"/*.go "$V"/*.s
cp "$REFLECT2_SRC"/*.go "$REFLECT2_SRC"/*.s "$V"/
log "replaced vendored reflect2 1.0.1 with Debian's $(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev)"

# Without .git, the build would stamp v0.0.0-master; give it the real version.
cat >"$WORK/version.env" <<EOF
KUBE_GIT_VERSION='v$VERSION'
KUBE_GIT_MAJOR='${VERSION%%.*}'
KUBE_GIT_MINOR='$(echo "$VERSION" | cut -d. -f2)'
KUBE_GIT_TREE_STATE='clean'
KUBE_GIT_COMMIT=''
EOF

mkdir -p "$WORK/home" "$WORK/gopath" "$WORK/gocache"
log "building cmd/kube-apiserver with $("$GO_ROOT/bin/go" version) (a few minutes)"
start=$(date +%s)
(
  cd "$SRC"
  env -i \
    PATH="$GO_ROOT/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    HOME="$WORK/home" GOPATH="$WORK/gopath" GOCACHE="$WORK/gocache" \
    GOPROXY=off GOFLAGS=-mod=vendor CGO_ENABLED=0 GO111MODULE=on \
    KUBE_GIT_VERSION_FILE="$WORK/version.env" \
    make WHAT=cmd/kube-apiserver
) >&2 || die "make WHAT=cmd/kube-apiserver failed (see the output above)"
log "build took $(( $(date +%s) - start )) s"

BUILT="$SRC/_output/bin/kube-apiserver"
[[ -x $BUILT ]] || die "build finished but $BUILT is missing"
"$BUILT" --version >&2 || die "built binary does not run"
install -m 0755 "$BUILT" "$BINARY.tmp" && mv "$BINARY.tmp" "$BINARY"
if [[ ${KEEP_SOURCE:-} != 1 ]]; then
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
fi
echo "$BINARY"
