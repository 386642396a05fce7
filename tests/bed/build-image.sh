#!/bin/sh
# build-image.sh: build the test bed's workload image exactly as bed.Image
# does, so that CI has it ready before the tests:
#
#   tests/bed/build-image.sh
#
# That is image/build.sh --oci (the OCI archive operators deploy, Debian
# sid, matrix-synapse pinned) --debs nginx, the archive unpacked with umoci
# at $SYNAPSE_BED_IMAGE (default /var/cache/synapse-bed/image/rootfs), and
# the bed layer beside it (rootfs.bed-layer: Pebble, Debian's nginx, the
# TEST-ONLY STAND-INS). Nothing is done when the image was built by the
# current image/build.sh. Needs root and Go.
set -eu
cd "$(dirname "$0")/../.."
exec go run ./tests/bed/cmd/bed-image "$@"
