#!/bin/sh
# Builds Sealpost's Debian package from this checkout with dpkg-deb:
#
#   packaging/build-deb.sh [OUTDIR]      (default: dist/)
#
# It needs go and dpkg-deb (Debian's dpkg), nothing else. The version is
# $VERSION, else 0.0~gitYYYYMMDD.COMMIT from git. The package holds
#   /usr/bin/sealpost                    built with /var/lib/sealpost as its
#                                        default data directory
#   /lib/systemd/system/sealpost.service packaging/sealpost.service
#   /etc/sealpost/sealpost.toml          packaging/sealpost.toml (a conffile)
#   /usr/share/man/man1/sealpost*.1.gz   from the command help ('sealpost man')
#   /usr/share/doc/sealpost/README.md.gz
# and packaging/debian/ (postinst: the sealpost user and /var/lib/sealpost).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/dist}
arch=$(dpkg --print-architecture)
case $arch in
amd64 | arm64 | riscv64 | s390x) goarch=$arch ;;
ppc64el) goarch=ppc64le ;;
i386) goarch=386 ;;
armhf) goarch=arm ;;
*) echo "build-deb.sh: no Go port known for Debian architecture $arch" >&2; exit 1 ;;
esac
if [ -z "${VERSION:-}" ]; then
	VERSION="0.0~git$(git -C "$src" log -1 --format=%cd --date=format:%Y%m%d).$(git -C "$src" rev-parse --short HEAD)"
fi
# The pages' date: the commit's, so that a rebuild gives the same pages.
day=$(git -C "$src" log -1 --format=%cs 2>/dev/null || date -u +%Y-%m-%d)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/sealpost
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/sealpost" \
	"$pkg/usr/share/man/man1" "$pkg/usr/share/doc/sealpost"

cli=github.com/sealpost/sealpost/internal/cli
app=github.com/sealpost/sealpost/internal/app
(cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=7 go build \
	-ldflags "-s -w -X $app.Version=$VERSION -X $cli.defaultDataDir=/var/lib/sealpost" \
	-o "$pkg/usr/bin/sealpost" ./cmd/sealpost)

# The pages come from the binary's own help, so they cannot drift from it;
# a binary for another architecture cannot run here, so build one that can.
if [ "$arch" = "$(go env GOARCH)" ]; then
	gen=$pkg/usr/bin/sealpost
else
	gen=$stage/sealpost-host
	(cd "$src" && go build -ldflags "-X $cli.defaultDataDir=/var/lib/sealpost" -o "$gen" ./cmd/sealpost)
fi
"$gen" man --date "$day" "$stage/man" >/dev/null
for page in "$stage"/man/*.1; do
	gzip -9n -c "$page" >"$pkg/usr/share/man/man1/$(basename "$page").gz"
done
gzip -9n -c "$src/README.md" >"$pkg/usr/share/doc/sealpost/README.md.gz"

install -m 0644 "$src/packaging/sealpost.service" "$pkg/lib/systemd/system/sealpost.service"
install -m 0644 "$src/packaging/sealpost.toml" "$pkg/etc/sealpost/sealpost.toml"
install -m 0644 "$src/packaging/debian/conffiles" "$pkg/DEBIAN/conffiles"
for script in postinst prerm postrm; do
	install -m 0755 "$src/packaging/debian/$script" "$pkg/DEBIAN/$script"
done
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	"$src/packaging/debian/control.in" >"$pkg/DEBIAN/control"

mkdir -p "$out"
deb="$out/sealpost_${VERSION}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
