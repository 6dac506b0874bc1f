#!/usr/bin/env bash
# Checks the Kotlin/JVM package's jars (run by `mvn verify`, bindings/kotlin/pom.xml):
#   JAR          carries the compiled classes, its POM, and a portable native library
#                for each platform, under JNA's resource prefix: linux-x86-64/ and
#                linux-aarch64/libsessions.so, each an ELF for its machine needing
#                glibc <= 2.17 (scripts/check-native-lib.sh);
#   SOURCES_JAR  carries the Kotlin sources (the generated bindings, with KDoc) and no
#                native library; the POM inside JAR has the metadata a registry requires
#                (name, description, url, licenses, developers, scm).
# Exits non-zero with the reason on any failure.
#
# Usage: scripts/check-jar.sh JAR SOURCES_JAR
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 JAR SOURCES_JAR" >&2; exit 2; }
jar=$1 sources=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() { echo "FAILED: $*" >&2; exit 1; }
[[ -f "$jar" ]] || fail "$jar was not built"
[[ -f "$sources" ]] || fail "$sources was not built"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

entries=$(unzip -Z1 "$jar")
grep -q '^dev/sessions/.*\.class$' <<<"$entries" || fail "no dev/sessions classes in $jar"
pom_entry=$(grep -m 1 '^META-INF/maven/.*/pom\.xml$' <<<"$entries") || fail "no POM in $jar"
for platform in linux-x86-64:x86_64 linux-aarch64:aarch64; do
  prefix=${platform%%:*} arch=${platform##*:}
  grep -qx "$prefix/libsessions.so" <<<"$entries" || fail "$prefix/libsessions.so is not in $jar"
  unzip -q -o "$jar" "$prefix/libsessions.so" -d "$work"
  bash "$here/check-native-lib.sh" "$work/$prefix/libsessions.so" "$arch" "$(basename "$jar"): $prefix/libsessions.so"
done
others=$(grep '\.so$' <<<"$entries" | grep -vx 'linux-x86-64/libsessions.so\|linux-aarch64/libsessions.so' || true)
[[ -z "$others" ]] || fail "unexpected native libraries in $jar: $others"

unzip -p "$jar" "$pom_entry" >"$work/pom.xml"
for element in name description url licenses/license/name licenses/license/url \
    developers/developer/name scm/url scm/connection; do
  value=$(python3 - "$work/pom.xml" "$element" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
path = "/".join(f"m:{part}" for part in sys.argv[2].split("/"))
node = ET.parse(sys.argv[1]).getroot().find(path, ns)
print(node.text.strip() if node is not None and node.text else "")
PY
)
  [[ -n "$value" ]] || fail "the POM in $jar has no <$element>"
done

source_entries=$(unzip -Z1 "$sources")
kotlin=$(grep '\.kt$' <<<"$source_entries" || true)
[[ -n "$kotlin" ]] || fail "no Kotlin sources in $sources"
grep -qx 'dev/sessions/sessions.kt' <<<"$kotlin" || fail "the generated dev/sessions/sessions.kt is not in $sources"
unzip -p "$sources" dev/sessions/sessions.kt >"$work/sessions.kt"
kdoc=$(grep -c '/\*\*' "$work/sessions.kt" || true)
[[ $kdoc -gt 0 ]] || fail "dev/sessions/sessions.kt in $sources has no KDoc"
! grep -q '\.so$' <<<"$source_entries" || fail "$sources carries a native library"

echo "$(basename "$jar"): classes, POM with publication metadata, linux-x86-64 and linux-aarch64 libraries OK"
echo "$(basename "$sources"): $(wc -l <<<"$kotlin") Kotlin file(s), $kdoc KDoc blocks in the generated bindings"
