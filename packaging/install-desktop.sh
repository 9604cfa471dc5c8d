#!/usr/bin/env bash
# Install the desktop integration for the current user (XDG dirs, no root needed):
# the launcher (.desktop), the icons (hicolor, 16 to 512 px and scalable) and the
# application/x-ugpcl-project MIME type (*.ugpcl), then refresh the MIME and desktop databases
# when their tools are installed.
#
#   packaging/install-desktop.sh                 # pip install: Exec=ugpcl-studio %F
#   packaging/install-desktop.sh --frozen DIR    # frozen build: DIR/ugpcl-studio (build.sh output)
#   packaging/install-desktop.sh --uninstall
#
# XDG_DATA_HOME (default ~/.local/share) chooses where.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
NAME=ugpcl-studio
SIZES="16 24 32 48 64 128 256 512"

mode=pip
frozen_dir=""
case "${1:-}" in
    --frozen) mode=frozen; frozen_dir="$(cd "${2:?--frozen needs the build folder}" && pwd)" ;;
    --uninstall) mode=uninstall ;;
    "") ;;
    *) echo "usage: $0 [--frozen DIR | --uninstall]" >&2; exit 2 ;;
esac

refresh() {
    if command -v update-mime-database >/dev/null; then
        update-mime-database "$DATA/mime" >/dev/null
    fi
    if command -v update-desktop-database >/dev/null; then
        update-desktop-database "$DATA/applications" >/dev/null 2>&1 || true
    fi
    if command -v gtk-update-icon-cache >/dev/null && [ -f "$DATA/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
    fi
}

if [ "$mode" = uninstall ]; then
    rm -f "$DATA/applications/$NAME.desktop" "$DATA/mime/packages/$NAME.xml" \
        "$DATA/icons/hicolor/scalable/apps/$NAME.svg"
    for s in $SIZES; do rm -f "$DATA/icons/hicolor/${s}x${s}/apps/$NAME.png"; done
    mkdir -p "$DATA/mime" "$DATA/applications"
    refresh
    echo "removed the ugpcl-studio desktop entry, icons and MIME type from $DATA"
    exit 0
fi

if [ "$mode" = frozen ]; then
    exe="$frozen_dir/$NAME"
    [ -x "$exe" ] || { echo "$exe is not an executable; run packaging/build.sh first" >&2; exit 2; }
else
    command -v "$NAME" >/dev/null || echo "warning: '$NAME' is not on PATH yet (pip install .)" >&2
fi

mkdir -p "$DATA/applications" "$DATA/mime/packages" "$DATA/icons/hicolor/scalable/apps"
for s in $SIZES; do
    mkdir -p "$DATA/icons/hicolor/${s}x${s}/apps"
    cp "$HERE/icons/${s}x${s}.png" "$DATA/icons/hicolor/${s}x${s}/apps/$NAME.png"
done
cp "$HERE/icons/$NAME.svg" "$DATA/icons/hicolor/scalable/apps/$NAME.svg"
cp "$HERE/$NAME-mime.xml" "$DATA/mime/packages/$NAME.xml"
if [ "$mode" = frozen ]; then
    sed -e "s|^Exec=.*|Exec=\"$exe\" %F|" -e "s|^TryExec=.*|TryExec=$exe|" \
        "$HERE/$NAME.desktop" >"$DATA/applications/$NAME.desktop"
else
    cp "$HERE/$NAME.desktop" "$DATA/applications/$NAME.desktop"
fi
refresh
echo "installed the ugpcl-studio desktop entry, icons and MIME type under $DATA"
