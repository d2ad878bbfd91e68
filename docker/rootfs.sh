#!/bin/sh
# docker/rootfs.sh: assemble the FROM-scratch root filesystem of the wsgate image.
#   docker/rootfs.sh WSGATE_BINARY OUT_DIR
# OUT_DIR gets: the stripped binary at /usr/local/bin/wsgate; every shared object
# that `ldd` lists for it and for the lws libev plugin (Debian 12 merged-/usr
# layout: files in /usr/lib/x86_64-linux-gnu, /lib -> usr/lib, /lib64 -> usr/lib64
# holding the loader link); the plugin itself at the one path lws 4.1.6 loads it
# from (/usr/lib/x86_64-linux-gnu, LIBRARY-NOTES §8); the CA bundle; an
# /etc/passwd and /etc/group entry for uid/gid 10001. Nothing else: no shell.
# Used by scripts/image.sh on the host and by docker/Dockerfile's build stage.
# Needs ldd (libc-bin), strip (binutils), ca-certificates and libwebsockets-evlib-ev.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 WSGATE_BINARY OUT_DIR" >&2; exit 2; }
bin=$1 out=$2
arch=x86_64-linux-gnu
plugin=/usr/lib/$arch/libwebsockets-evlib_ev.so
certs=/etc/ssl/certs/ca-certificates.crt
for f in "$bin" "$plugin" "$certs"; do
  [ -f "$f" ] || { echo "rootfs.sh: missing $f" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out/usr/local/bin" "$out/usr/lib/$arch" "$out/usr/lib64" "$out/etc/ssl/certs"
ln -s usr/lib "$out/lib"
ln -s usr/lib64 "$out/lib64"

strip --strip-all -o "$out/usr/local/bin/wsgate" "$bin"
cp "$plugin" "$out/usr/lib/$arch/"

# "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" and the loader line.
libs=$( (ldd "$bin"; ldd "$plugin") | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
for p in $libs; do
  name=$(basename "$p")
  case "$p" in
    */lib64/*) # the loader (PT_INTERP /lib64/ld-linux-x86-64.so.2)
      cp -L "$p" "$out/usr/lib/$arch/$name"
      ln -sf "../lib/$arch/$name" "$out/usr/lib64/$name" ;;
    */lib/$arch/*) cp -L "$p" "$out/usr/lib/$arch/$name" ;;
    *) mkdir -p "$out$(dirname "$p")"; cp -L "$p" "$out$p" ;;
  esac
done

cp -L "$certs" "$out/etc/ssl/certs/ca-certificates.crt"
echo 'wsgate:x:10001:10001:wsgate:/nonexistent:/nonexistent' > "$out/etc/passwd"
echo 'wsgate:x:10001:' > "$out/etc/group"
chmod -R u=rwX,go=rX "$out"
