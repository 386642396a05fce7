#!/bin/sh
# image/build.sh: build the Synapse workload image from Debian packages.
#
#   image/build.sh [--oci ARCHIVE] [--debs DIR PKG[,PKG...]] ROOTFS
#
# ROOTFS gets the image's root filesystem, from one mmdebstrap run of Debian
# sid: matrix-synapse at the version the charm pins, python3-hiredis,
# python3-boto3, python3-pysaml2 and xmlsec1 (SAML2), ca-certificates, and
# the synapse user and group (uid and gid 991). Docs, man pages, locales and
# apt lists are left out. Pebble is not in it: Juju injects its own Pebble
# into every sidecar container (/charm/bin/pebble).
#
# Debian ships neither txredisapi (Synapse's Redis client, needed by workers)
# nor the S3 storage provider; the image lacks both (see docs/image-contract.md).
#
# --oci ARCHIVE  also writes ROOTFS as an OCI archive (umoci, skopeo), tag
#                synapse:<version>, with Env PATH and LANG, WorkingDir /data,
#                no entrypoint (Pebble is the entrypoint under Juju).
# --debs DIR PKGS  also downloads the .debs of PKGS (comma-separated) and the
#                dependencies the image lacks into DIR, without installing
#                them: for test beds that layer extras (nginx) over the image.
#
# A ROOTFS built by this same recipe is reused (ROOTFS.recipe holds the
# recipe's hash); another one is refused. Reproducible: mtimes are clamped
# to SOURCE_DATE_EPOCH (default: the time of build.sh's last commit) and the
# archive has one dated history entry, so the same packages give the same
# digest. Needs root.
set -eu

# The Synapse the charm is written and tested against (workload/routes.go,
# workload/roles.go). sid carries one version at a time: when it moves on,
# this pin fails loudly rather than building another Synapse.
synapse_version=1.160.0-1
packages=matrix-synapse=$synapse_version,python3-hiredis,python3-boto3,python3-pysaml2,xmlsec1,ca-certificates
uid=991

usage() {
	echo "usage: image/build.sh [--oci ARCHIVE] [--debs DIR PKG[,PKG...]] ROOTFS" >&2
	exit 2
}

oci= debs_dir= debs_pkgs=
while [ $# -gt 0 ]; do
	case $1 in
	--oci) [ $# -ge 2 ] || usage; oci=$2; shift 2 ;;
	--debs) [ $# -ge 3 ] || usage; debs_dir=$2; debs_pkgs=$3; shift 3 ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
rootfs=${1%/}
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" != 0 ]; then
	echo "image/build.sh: must run as root (mmdebstrap --mode=root)" >&2
	exit 1
fi
for tool in mmdebstrap ${oci:+umoci skopeo}; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "image/build.sh: needs $tool (apt-get install mmdebstrap umoci skopeo)" >&2
		exit 1
	fi
done

# The recipe's own last commit dates the image: a commit elsewhere in the
# repository does not change its digest.
: "${SOURCE_DATE_EPOCH:=$(git -C "$here" log -1 --format=%ct -- build.sh 2>/dev/null || true)}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-0}"
recipe=$(sha256sum <"$here/build.sh" | cut -d' ' -f1)

mkdir -p "$(dirname "$rootfs")"
exec 9>"$rootfs.lock"
flock 9

build_rootfs() {
	rm -rf "$rootfs.tmp"
	if [ -n "$debs_dir" ]; then
		rm -rf "$debs_dir"
		mkdir -p "$debs_dir"
	fi
	start=$(date +%s)
	# dpkg never unpacks docs (copyright files excepted: the image is
	# redistributed), man pages or translations. The customize hooks add the
	# user, fetch the extra .debs while apt's lists are still there, and drop
	# what varies between runs (logs, caches, -old files); mtimes are clamped
	# after the run.
	# The sid index served to these machines may carry an expired Valid-Until.
	mmdebstrap --mode=root --variant=apt \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/lintian/*' \
		--include="$packages" \
		--customize-hook="chroot \"\$1\" groupadd --system --gid $uid synapse" \
		--customize-hook="chroot \"\$1\" useradd --system --uid $uid --gid $uid --no-create-home --home-dir /data --shell /usr/sbin/nologin synapse" \
		--customize-hook='mkdir -p "$1/data" && chown '$uid:$uid' "$1/data" && chmod 0750 "$1/data"' \
		${debs_dir:+--customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb'} \
		${debs_dir:+--customize-hook="chroot \"\$1\" apt-get install --download-only -y --no-install-recommends $(echo "$debs_pkgs" | tr , ' ')"} \
		${debs_dir:+--customize-hook="sync-out /var/cache/apt/archives $debs_dir"} \
		--customize-hook='find "$1/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete && find "$1/usr/share/doc" -mindepth 1 -type d -empty -delete' \
		--customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/log/apt/* "$1"/var/log/dpkg.log "$1"/var/log/alternatives.log "$1"/var/cache/ldconfig/aux-cache "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old "$1"/etc/*- "$1"/usr/share/info/dir' \
		sid "$rootfs.tmp"
	# mmdebstrap drops apt's lists itself; what remains must be the image.
	find "$rootfs.tmp/var/lib/apt/lists" -mindepth 1 -maxdepth 1 ! -name lock ! -name partial -exec rm -rf {} +
	if [ -n "$debs_dir" ]; then
		find "$debs_dir" -mindepth 1 ! -name '*.deb' -exec rm -rf {} +
	fi
	find "$rootfs.tmp" -xdev -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	check_rootfs "$rootfs.tmp"
	rm -rf "$rootfs"
	mv "$rootfs.tmp" "$rootfs"
	echo "$recipe" >"$rootfs.recipe"
	echo "image/build.sh: built $rootfs in $(($(date +%s) - start)) s, $(du -sh "$rootfs" | cut -f1)"
}

# check_rootfs ROOT fails unless ROOT holds what docs/image-contract.md asks.
check_rootfs() {
	root=$1
	test -x "$root/usr/bin/synapse_homeserver"
	test -x "$root/usr/bin/xmlsec1"
	grep -q "^synapse:x:$uid:$uid:" "$root/etc/passwd"
	have=$(chroot "$root" dpkg-query -W -f='${Version}' matrix-synapse)
	if [ "$have" != "$synapse_version" ]; then
		echo "image/build.sh: matrix-synapse is $have, not $synapse_version" >&2
		exit 1
	fi
	PYTHONDONTWRITEBYTECODE=1 chroot "$root" /usr/bin/python3 -c \
		'import synapse, synapse.app.homeserver, hiredis, boto3, saml2, psycopg2' ||
		{ echo "image/build.sh: a Python module is missing from $root" >&2; exit 1; }
}

# cleanup_oci removes pack_oci's scratch directory, never the rootfs bound
# into it: while the bind mount stays, the directory stays too.
cleanup_oci() {
	if mountpoint -q "$work/bundle/rootfs"; then
		umount "$work/bundle/rootfs" || return 0
	fi
	rm -rf "$work"
}

# pack_oci writes the archive: umoci builds an OCI layout from the rootfs
# (one layer, created and history times fixed), tar makes it an
# oci-archive that skopeo must read back. Everything is derived from the
# rootfs and SOURCE_DATE_EPOCH.
pack_oci() {
	start=$(date +%s)
	tag=$(echo "$synapse_version" | sed 's/-[^-]*$//')
	work=$(mktemp -d "${TMPDIR:-/tmp}/synapse-oci.XXXXXX")
	trap cleanup_oci EXIT
	created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
	umoci init --layout "$work/layout"
	umoci new --image "$work/layout:$tag"
	# umoci repack wants an unpacked bundle: a config.json, an mtree of the
	# (empty) base image and the rootfs. Unpack the empty image, then put the
	# rootfs in place by a bind mount, so nothing is copied.
	umoci unpack --image "$work/layout:$tag" "$work/bundle"
	rmdir "$work/bundle/rootfs"
	mkdir "$work/bundle/rootfs"
	mount --bind "$rootfs" "$work/bundle/rootfs"
	umoci repack --image "$work/layout:$tag" --history.created "$created" \
		--history.created_by "image/build.sh $synapse_version" "$work/bundle"
	umount "$work/bundle/rootfs"
	umoci config --no-history --image "$work/layout:$tag" \
		--created "$created" --author "image/build.sh" \
		--os linux --architecture "$(dpkg --print-architecture)" \
		--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--config.env LANG=C.UTF-8 \
		--config.workingdir /data \
		--config.label org.opencontainers.image.title=synapse \
		--config.label org.opencontainers.image.version="$synapse_version" \
		--config.label org.opencontainers.image.source=image/build.sh
	umoci gc --layout "$work/layout"
	# An oci-archive is a tar of the layout; written by tar with fixed
	# order, times and owners it is the same bytes on every run (skopeo copy
	# to oci-archive stamps the current time into the tar headers).
	tar -C "$work/layout" --sort=name --format=gnu --mtime="@$SOURCE_DATE_EPOCH" \
		--owner=0 --group=0 --numeric-owner --mode=a+rX -cf "$oci.tmp" .
	skopeo inspect "oci-archive:$oci.tmp" >/dev/null
	mv "$oci.tmp" "$oci"
	echo "image/build.sh: wrote $oci in $(($(date +%s) - start)) s, $(du -h "$oci" | cut -f1)"
}

if [ -x "$rootfs/usr/bin/synapse_homeserver" ] && [ "$(cat "$rootfs.recipe" 2>/dev/null)" = "$recipe" ] &&
	{ [ -z "$debs_dir" ] || [ -n "$(ls "$debs_dir"/*.deb 2>/dev/null)" ]; }; then
	echo "image/build.sh: $rootfs is built by this recipe; reusing it"
elif [ -e "$rootfs" ] && [ ! -e "$rootfs.recipe" ] && [ -n "$(ls -A "$rootfs" 2>/dev/null)" ]; then
	echo "image/build.sh: $rootfs exists but was not built by this recipe; remove it and run again" >&2
	exit 1
else
	build_rootfs
fi
if [ -n "$oci" ]; then
	pack_oci
fi
