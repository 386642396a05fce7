#!/bin/sh
# build-image.sh: build the Synapse workload image of tests/bed, a Debian sid
# chroot with matrix-synapse, python3-hiredis, python3-boto3, nginx, and
# python3-pysaml2 with xmlsec1 (Synapse's SAML2 support, which the upstream
# image ships), and the user Synapse runs as (synapse, uid and gid 991, as
# in the upstream image).
#
#   tests/bed/build-image.sh [IMAGE_DIR]
#
# IMAGE_DIR defaults to $SYNAPSE_BED_IMAGE, else /var/cache/synapse-bed/chroot.
# Nothing is done when IMAGE_DIR/usr/bin/synapse_homeserver and the saml2
# module already exist. An image built before SAML support (Synapse present,
# saml2 missing) is upgraded in place: apt in the image installs only
# python3-pysaml2 and xmlsec1, with matrix-synapse held, so the Synapse
# version never changes. An image without the synapse user gets it
# (useradd in the image, well under a second).
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

# The image's SAML2 support: pysaml2 and the xmlsec1 binary it signs with.
saml_module=/usr/lib/python3/dist-packages/saml2

# add_saml ROOT installs python3-pysaml2 and xmlsec1 into an image built
# without them, upgrading nothing that is installed (matrix-synapse is held
# for the run), and leaves no apt lists or debs behind.
add_saml() {
	root=$1
	before=$(chroot "$root" dpkg-query -W -f='${Version}' matrix-synapse)
	chroot "$root" apt-mark hold matrix-synapse >/dev/null
	chroot "$root" apt-get update
	DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y \
		--no-install-recommends --no-upgrade python3-pysaml2 xmlsec1
	chroot "$root" apt-mark unhold matrix-synapse >/dev/null
	chroot "$root" apt-get clean
	find "$root/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete
	after=$(chroot "$root" dpkg-query -W -f='${Version}' matrix-synapse)
	if [ "$before" != "$after" ]; then
		echo "build-image.sh: matrix-synapse changed from $before to $after" >&2
		exit 1
	fi
	test -d "$root$saml_module" && test -x "$root/usr/bin/xmlsec1"
}

# Synapse's user, as in the upstream image: uid and gid 991. The charm
# runs every Synapse process as it, never as root.
has_synapse_user() {
	cut -d: -f3 "$1/etc/passwd" | grep -qx 991
}

# add_synapse_user ROOT adds the user (and its group) to an image without
# it; nothing else changes.
add_synapse_user() {
	root=$1
	cut -d: -f3 "$root/etc/group" | grep -qx 991 || chroot "$root" groupadd --system --gid 991 synapse
	chroot "$root" useradd --system --uid 991 --gid 991 --no-create-home \
		--home-dir /data --shell /usr/sbin/nologin synapse
	has_synapse_user "$root"
}

if [ -x "$img/usr/bin/synapse_homeserver" ]; then
	if [ ! -d "$img$saml_module" ] || [ ! -x "$img/usr/bin/xmlsec1" ]; then
		start=$(date +%s)
		add_saml "$img"
		echo "build-image.sh: added SAML2 support to $img in $(($(date +%s) - start)) s"
	fi
	if ! has_synapse_user "$img"; then
		add_synapse_user "$img"
		echo "build-image.sh: added the synapse user (uid 991) to $img"
	fi
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
	--include=matrix-synapse,python3-hiredis,python3-boto3,ca-certificates,nginx,python3-pysaml2,xmlsec1 \
	sid "$img.tmp"
test -x "$img.tmp/usr/bin/synapse_homeserver"
test -d "$img.tmp$saml_module"
add_synapse_user "$img.tmp"
if [ -e "$img" ]; then rmdir "$img"; fi
mv "$img.tmp" "$img"
echo "build-image.sh: built $img in $(($(date +%s) - start)) s"
