#!/bin/sh
# Builds Nest's example OCI images offline, from Debian's busybox-static:
#   OUTDIR/oci              OCI layout with refs "hello", "httpd", "httpd-v2"
#   OUTDIR/hello-oci.tar    oci-archive of hello (skopeo)
#   OUTDIR/hello-docker.tar docker-archive of hello (skopeo)
# hello: prints "hello from nest" and exits 0.
# httpd: busybox httpd in the foreground on port 8080, serving /www.
# httpd-v2: the same with another page (a second version to roll out).
# Needs: busybox-static, umoci, skopeo. Runs as root (umoci keeps owners).
set -eu

OUT=${1:?usage: build.sh OUTDIR}
BUSYBOX=${BUSYBOX:-/bin/busybox}
# Fixed timestamps keep the images the same from one build to the next.
EPOCH=1970-01-01T00:00:00Z

for tool in umoci skopeo; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is required" >&2; exit 1; }
done
if ! "$BUSYBOX" --help >/dev/null 2>&1; then
  echo "build.sh: $BUSYBOX not found (apt-get install busybox-static)" >&2; exit 1
fi
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "build.sh: $BUSYBOX is dynamically linked; the images need busybox-static" >&2; exit 1
fi

mkdir -p "$OUT"
LAYOUT=$OUT/oci
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nest-examples.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

rm -rf "$LAYOUT"
umoci init --layout "$LAYOUT"

# base_rootfs DIR: busybox plus the few applets and files the examples use.
base_rootfs() {
  root=$1
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/www" "$root/proc" \
           "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  cp "$BUSYBOX" "$root/bin/busybox"
  for applet in sh echo cat ls sleep httpd wget id hostname env; do
    ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' \
    > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
}

# build NAME populate-function config-args...
build() {
  name=$1; shift
  populate=$1; shift
  umoci new --image "$LAYOUT:$name"
  umoci unpack --image "$LAYOUT:$name" "$WORK/$name"
  base_rootfs "$WORK/$name/rootfs"
  "$populate" "$WORK/$name/rootfs"
  find "$WORK/$name/rootfs" -exec touch -h -d "$EPOCH" {} +
  umoci repack --image "$LAYOUT:$name" --history.created "$EPOCH" \
    --history.created_by "examples/images/build.sh" "$WORK/$name"
  umoci config --image "$LAYOUT:$name" --created "$EPOCH" \
    --history.created "$EPOCH" \
    --config.env PATH=/bin --config.workingdir / "$@"
}

populate_hello() { :; }
populate_httpd() {
  printf '<html><body><h1>hello from nest httpd</h1></body></html>\n' \
    > "$1/www/index.html"
}
populate_httpd_v2() {
  printf '<html><body><h1>hello from nest httpd v2</h1></body></html>\n' \
    > "$1/www/index.html"
}

build hello populate_hello \
  --config.entrypoint /bin/echo --config.cmd "hello from nest"
# build_httpd NAME POPULATE
build_httpd() {
  build "$1" "$2" \
    --config.exposedports 8080/tcp \
    --config.cmd /bin/httpd --config.cmd -f --config.cmd -v \
    --config.cmd -p --config.cmd 8080 --config.cmd -h --config.cmd /www
}
build_httpd httpd populate_httpd
build_httpd httpd-v2 populate_httpd_v2
umoci gc --layout "$LAYOUT"

rm -f "$OUT/hello-oci.tar" "$OUT/hello-docker.tar"
skopeo --insecure-policy copy -q "oci:$LAYOUT:hello" "oci-archive:$OUT/hello-oci.tar:hello"
skopeo --insecure-policy copy -q "oci:$LAYOUT:hello" \
  "docker-archive:$OUT/hello-docker.tar:nest/hello:latest"

echo "built $LAYOUT (hello, httpd, httpd-v2), $OUT/hello-oci.tar, $OUT/hello-docker.tar"
