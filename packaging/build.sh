#!/usr/bin/env bash
# Build the one-folder desktop app with PyInstaller: dist/ugpcl-studio/ugpcl-studio.
#
#   pip install . pyinstaller   # or: pip install ".[freeze]"; a CPU environment
#                               # (packaging/cpu.txt) gives a much smaller folder
#   packaging/build.sh          # from anywhere; builds under build/ and dist/ at the repo root
#   packaging/smoke.sh          # then: does the built app start?
#
# Besides the app, dist/ugpcl-studio/ holds ugpcl-studio.desktop (Exec= the frozen executable)
# and desktop/ (icons, MIME type, install-desktop.sh): on the target machine
#   dist/ugpcl-studio/desktop/install-desktop.sh --frozen dist/ugpcl-studio
# adds the launcher and the .ugpcl file type for the current user.
# Prints the build time and the folder size. DIST=... chooses another output folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="${DIST:-$ROOT/dist}"
PYTHON="${PYTHON:-python}"
cd "$ROOT"
start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$ROOT/build/pyinstaller" packaging/ugpcl-studio.spec
APP="$DIST/ugpcl-studio"
mkdir -p "$APP/desktop"
cp -r packaging/icons "$APP/desktop/"
cp packaging/ugpcl-studio.desktop packaging/ugpcl-studio-mime.xml packaging/install-desktop.sh \
    "$APP/desktop/"
sed -e "s|^Exec=.*|Exec=\"$APP/ugpcl-studio\" %F|" \
    -e "s|^TryExec=.*|TryExec=$APP/ugpcl-studio|" \
    packaging/ugpcl-studio.desktop >"$APP/ugpcl-studio.desktop"
end=$(date +%s)
echo "built $APP in $((end - start)) s; folder size $(du -sh "$APP" | cut -f1)"
