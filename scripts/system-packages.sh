#!/bin/sh
# Debian packages camtrack needs beyond PyPI and npm, installed when missing and we may (root with
# apt-get); otherwise say what to install.
#   (no argument)  libzbar0 for the zbar engine
#   npm            Node.js's package manager, for the console's browser assets
#   browser        Chromium and its driver, for the console's browser tests
need=""
case "${1:-}" in
  npm) command -v npm >/dev/null || need="nodejs npm" ;;
  browser)
    [ -x /usr/bin/chromium ] || need="chromium"
    [ -x /usr/bin/chromedriver ] || need="$need chromium-driver" ;;
  *) ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || need="libzbar0" ;;
esac
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: $need"
  apt-get install -y -q $need >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $need >/dev/null; }
else
  echo "note: install $need (e.g. sudo apt-get install $need)" >&2
fi
