#!/usr/bin/env bash
# npm run package: dist/ocfkit_<version>_amd64.deb and dist/ocfkit-<version>-1.x86_64.rpm from the
# built executable (built first when missing), reproducibly: the same commit gives the same bytes.
#   OCFKIT_PKG_BINARY=path   the executable to package (default dist/ocfkit)
#   OCFKIT_PKG_OUT=dir       where the packages go (default dist/)
#   OCFKIT_PKG_COMPRESS=gzip|none   payload compression (none: fast throwaway packages for tests)
#   SOURCE_DATE_EPOCH        every timestamp in the packages (default: the commit's time)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${OCFKIT_PKG_BINARY:-$top/dist/ocfkit}
out=${OCFKIT_PKG_OUT:-$top/dist}
compress=${OCFKIT_PKG_COMPRESS:-gzip}
if [ ! -x "$bin" ] && [ -z "${OCFKIT_PKG_BINARY:-}" ]; then (cd "$top" && npm run --silent build); fi
[ -x "$bin" ] || { echo "package: $bin is missing" >&2; exit 1; }
for tool in dpkg-deb rpmbuild; do command -v $tool >/dev/null || { echo "package: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }; done
# The version the executable itself reports: a package never claims another one.
version=$("$bin" --version | awk '{print $2}')
agents=$("$bin" agents)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null) || { echo "package: not a git checkout: set SOURCE_DATE_EPOCH" >&2; exit 1; }
fi
export SOURCE_DATE_EPOCH
# Sorting, dates and gzip must not depend on who builds where.
export LC_ALL=C TZ=UTC
umask 022

summary='High-availability storage agents for Pacemaker (OCF)'
description='OCF resource agents for a two-node NFS server on DRBD behind a floating
address, in one executable: ocf:ocfkit:vip (floating IP address),
ocf:ocfkit:fs-mount (filesystem), ocf:ocfkit:drbd-promote (promotable
DRBD that never promotes stale data) and ocf:ocfkit:nfs-export (NFS export
that survives failover), with the ocfkit command that plans, applies,
checks and simulates the whole stack with pcs.'
homepage=https://example.org/ocfkit
maintainer='ocfkit maintainers <ocfkit@example.org>'
changelog_text="Package built from the ocfkit source tree (npm run package)."

work=$(mktemp -d /tmp/ocfkit-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The files both packages carry; docs differ per family and are added by each below.
stage() {
  local root=$1
  install -d -m 755 "$root/usr/lib/ocfkit" "$root/usr/lib/ocf/resource.d/ocfkit" "$root/usr/sbin" \
    "$root/usr/share/man/man7" "$root/usr/share/man/man8" "$root/usr/share/doc/ocfkit"
  install -m 755 "$bin" "$root/usr/lib/ocfkit/ocfkit"
  # Relative links, as scripts/install.sh makes them: they survive a relocated root (dpkg --root).
  for a in $agents; do ln -s ../../../ocfkit/ocfkit "$root/usr/lib/ocf/resource.d/ocfkit/$a"; done
  ln -s ../lib/ocfkit/ocfkit "$root/usr/sbin/ocfkit"
  # The static drop-ins nfs-export's NFS units read their arguments through, and their wrapper.
  "$bin" install-nfs-units /usr/lib/systemd/system /usr/lib/ocfkit "$root" >/dev/null
  OCFKIT_VERSION=$version node "$top/scripts/run-ts.mjs" "$top/scripts/package/man-pages.ts" "$work/man" >/dev/null
  for p in "$work"/man/*.7; do gzip -9n <"$p" >"$root/usr/share/man/man7/$(basename "$p").gz"; done
  for p in "$work"/man/*.8; do gzip -9n <"$p" >"$root/usr/share/man/man8/$(basename "$p").gz"; done
  chmod 644 "$root"/usr/share/man/man*/*
}

# Fixed times and modes on everything, links included, so the archives do not record the build.
settle() {
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

changelog_date() { date -u -d "@$SOURCE_DATE_EPOCH" "$1"; }

build_deb() {
  local root=$work/deb
  stage "$root"
  gzip -9n <"$top/README.md" >"$root/usr/share/doc/ocfkit/README.md.gz"
  install -m 644 "$top/scripts/package/debian-copyright" "$root/usr/share/doc/ocfkit/copyright"
  printf 'ocfkit (%s) unstable; urgency=medium\n\n  * %s\n\n -- %s  %s\n' \
    "$version" "$changelog_text" "$maintainer" "$(changelog_date '+%a, %d %b %Y %H:%M:%S +0000')" | gzip -9n >"$root/usr/share/doc/ocfkit/changelog.gz"
  install -d -m 755 "$root/usr/share/lintian/overrides"
  install -m 644 "$top/scripts/package/lintian-overrides" "$root/usr/share/lintian/overrides/ocfkit"
  chmod 644 "$root"/usr/share/doc/ocfkit/*
  install -d -m 755 "$root/DEBIAN"
  # One daemon-reload, at install and removal: it loads the NFS units' drop-ins, so that no failover
  # needs one. Not into a root other than / (dpkg --root with --force-script-chrootless sets DPKG_ROOT).
  for script in postinst postrm; do
    printf '#!/bin/sh\nset -e\nif [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then\n  systemctl daemon-reload || true\nfi\n' >"$root/DEBIAN/$script"
    chmod 755 "$root/DEBIAN/$script"
  done
  (cd "$root" && find usr -type f | sort | xargs md5sum) >"$root/DEBIAN/md5sums"
  chmod 644 "$root/DEBIAN/md5sums"
  {
    echo "Package: ocfkit"
    echo "Version: $version"
    echo "Architecture: amd64"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)"
    # glibc: the newest GLIBC_ symbol version the executable binds to (docs/install.md#supported-systems).
    echo "Depends: libc6 (>= 2.17), pacemaker-cli-utils, iproute2"
    echo "Recommends: iputils-arping"
    echo "Suggests: pcs, drbd-utils, nfs-kernel-server"
    echo "Section: admin"
    echo "Priority: optional"
    echo "Homepage: $homepage"
    echo "Description: $summary"
    sed 's/^/ /' <<<"$description"
  } >"$root/DEBIAN/control"
  chmod 644 "$root/DEBIAN/control"
  settle "$root"
  local z=(-Zgzip -z6)
  [ "$compress" = none ] && z=(-Znone)
  # --root-owner-group: root:root in the archive whoever builds; dpkg-deb sorts the file list and
  # takes the ar and tar times from SOURCE_DATE_EPOCH.
  dpkg-deb --root-owner-group "${z[@]}" --build "$root" "$out/ocfkit_${version}_amd64.deb" >/dev/null
}

build_rpm() {
  local root=$work/rpmroot top_rpm=$work/rpmbuild
  stage "$root"
  install -m 644 "$top/README.md" "$root/usr/share/doc/ocfkit/README.md"
  install -d -m 755 "$root/usr/share/licenses/ocfkit"
  install -m 644 "$top/LICENSE" "$root/usr/share/licenses/ocfkit/LICENSE"
  settle "$root"
  mkdir -p "$top_rpm"/{SPECS,RPMS,BUILD,BUILDROOT,SOURCES,SRPMS}
  local payload=w6.gzdio
  [ "$compress" = none ] && payload=w0.ufdio
  {
    echo "Name: ocfkit"
    echo "Version: $version"
    echo "Release: 1"
    echo "Summary: $summary"
    echo "License: GPL-2.0-or-later"
    echo "Group: Productivity/Clustering/HA"
    echo "URL: $homepage"
    echo "Packager: $maintainer"
    # Names as the RHEL family and SLES spell them; rich dependencies need rpm >= 4.13 (RHEL 8, SLES 15).
    echo "Requires: pacemaker-cli"
    echo "Requires: (iproute or iproute2)"
    echo "Recommends: iputils"
    echo "Suggests: pcs"
    echo "Suggests: drbd-utils"
    echo "Suggests: (nfs-utils or nfs-kernel-server)"
    echo
    echo "%description"
    echo "$description"
    echo
    echo "%install"
    echo "cp -a $root/. %{buildroot}/"
    echo
    # One daemon-reload, at install and removal (where systemd's own file trigger does not already
    # run it): it loads the NFS units' drop-ins, so that no failover needs one. Lua: no shell needed
    # in the root rpm installs into.
    for when in post postun; do
      echo "%$when -p <lua>"
      echo 'if posix.access("/run/systemd/system") then os.execute("systemctl daemon-reload") end'
      echo
    done
    echo "%files"
    echo "%dir /usr/lib/ocfkit"
    echo "/usr/lib/ocfkit/ocfkit"
    echo "%dir /usr/lib/ocf/resource.d/ocfkit"
    for a in $agents; do echo "/usr/lib/ocf/resource.d/ocfkit/$a"; done
    echo "/usr/sbin/ocfkit"
    echo "/usr/lib/ocfkit/nfs-unit-exec"
    for u in nfs-server nfsdcld rpc-statd; do echo "%dir /usr/lib/systemd/system/$u.service.d"; echo "/usr/lib/systemd/system/$u.service.d/60-ocfkit-nfs.conf"; done
    (cd "$root" && find usr/share/man -type f | sort | sed 's|^|%doc /|; s|^%doc /usr/share/man|/usr/share/man|')
    echo "%dir /usr/share/doc/ocfkit"
    echo "%doc /usr/share/doc/ocfkit/README.md"
    echo "%dir /usr/share/licenses/ocfkit"
    echo "%license /usr/share/licenses/ocfkit/LICENSE"
    echo
    echo "%changelog"
    echo "* $(changelog_date '+%a %b %d %Y') $maintainer - $version-1"
    echo "- $changelog_text"
  } >"$top_rpm/SPECS/ocfkit.spec"
  # No strip, no debuginfo, no build-id links: stripping drops the .bun section, the program
  # itself (it then runs as a bare bun), and the build-id links would be files nobody asked for.
  rpmbuild --quiet -bb "$top_rpm/SPECS/ocfkit.spec" \
    --define "_topdir $top_rpm" \
    --define "_build_id_links none" \
    --define "debug_package %{nil}" \
    --define "__os_install_post %{nil}" \
    --define "__strip /bin/true" \
    --define "_binary_payload $payload" \
    --define "_buildhost reproducible" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_epoch 1" \
    --define "_rpmfilename %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --target x86_64 >/dev/null
  cp "$top_rpm/RPMS/ocfkit-$version-1.x86_64.rpm" "$out/"
}

build_deb
build_rpm
echo "packaged ocfkit $version: $out/ocfkit_${version}_amd64.deb $out/ocfkit-${version}-1.x86_64.rpm"
