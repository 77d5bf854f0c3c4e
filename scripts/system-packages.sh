#!/bin/sh
# Debian packages camtrack needs beyond PyPI: libzbar0 for the zbar engine. Installed when
# missing and we may (root with apt-get); otherwise say what to install.
need=""
ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || need="$need libzbar0"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages:$need"
  apt-get install -y -q $need >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $need >/dev/null; }
else
  echo "note: install$need (e.g. sudo apt-get install$need) for the zbar engine" >&2
fi
