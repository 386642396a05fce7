#!/bin/sh
# build-image.sh: build the Synapse workload image of tests/bed, a Debian sid
# chroot with matrix-synapse, python3-hiredis, python3-boto3 and nginx.
#
#   tests/bed/build-image.sh [IMAGE_DIR]
#
# IMAGE_DIR defaults to $SYNAPSE_BED_IMAGE, else /var/cache/synapse-bed/chroot.
# Nothing is done when IMAGE_DIR/usr/bin/synapse_homeserver already exists.
# The build (about 75 s) goes into IMAGE_DIR.tmp and is renamed into place
# when complete; IMAGE_DIR.lock serialises concurrent builders. Needs root.
#
# bed.Image runs this same script, then installs Pebble and the TEST-ONLY
# STAND-INS (tests/bed/standins) into the image; CI may run it beforehand so
# that the tests find the image ready.
set -eu

img=${1:-${SYNAPSE_BED_IMAGE:-/var/cache/synapse-bed/chroot}}
img=${img%/}

if [ "$(id -u)" != 0 ]; then
	echo "build-image.sh: must run as root (mmdebstrap --mode=root)" >&2
	exit 1
fi

mkdir -p "$(dirname "$img")"
exec 9>"$img.lock"
flock 9

if [ -x "$img/usr/bin/synapse_homeserver" ]; then
	echo "build-image.sh: $img is ready"
	exit 0
fi
if [ -e "$img" ] && [ -n "$(ls -A "$img" 2>/dev/null)" ]; then
	echo "build-image.sh: $img exists but holds no Synapse; remove it and run again" >&2
	exit 1
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap
fi

rm -rf "$img.tmp"
start=$(date +%s)
# The sid index served to these machines may carry an expired Valid-Until.
mmdebstrap --mode=root --variant=apt \
	--aptopt='Acquire::Check-Valid-Until "false"' \
	--include=matrix-synapse,python3-hiredis,python3-boto3,ca-certificates,nginx \
	sid "$img.tmp"
test -x "$img.tmp/usr/bin/synapse_homeserver"
if [ -e "$img" ]; then rmdir "$img"; fi
mv "$img.tmp" "$img"
echo "build-image.sh: built $img in $(($(date +%s) - start)) s"
