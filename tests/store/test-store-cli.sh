#!/bin/sh
# Tests of "certpick import", "identities", "remove" and "match" as a
# person runs them: every import format, passwords from a file, from a
# terminal and from neither, JSON output, permissions, and no password in
# any output or in the store.
#
# Needs CERTPICK_CLI and CERTPICK_TEST_PKI (meson test sets them).
set -eu

cli=${CERTPICK_CLI:?run this with meson test}
pki=${CERTPICK_TEST_PKI:?run this with meson test}
python=${PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
plain_password='correct horse battery staple'
utf8_password=$(cat "$pki/passwords/utf8")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/certpick-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
outputs=$tmp/all-output
: > "$outputs"
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run NAME COMMAND...: runs certpick, keeps stdout in $tmp/NAME.out and
# stderr in $tmp/NAME.err, and returns its exit status.
run() {
	name=$1
	shift
	status=0
	"$cli" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" || status=$?
	cat "$tmp/$name.out" "$tmp/$name.err" >> "$outputs"
	return $status
}

expect_ok() {
	name=$1
	if ! run "$@"; then
		fail "$name: exit status $status; stderr: $(cat "$tmp/$name.err")"
	fi
}

expect_status() {
	expected=$1
	name=$2
	shift 2
	run "$name" "$@" || true
	if [ "$status" -ne "$expected" ]; then
		fail "$name: exit status $status, expected $expected"
	fi
}

expect_in() {
	file=$1
	text=$2
	if ! grep -qF -- "$text" "$tmp/$file"; then
		fail "$file lacks \"$text\": $(cat "$tmp/$file")"
	fi
}

json_check() { # NAME FILE PYTHON-EXPRESSION
	if ! "$python" -c "
import json, sys
data = json.load(open(sys.argv[1], encoding='utf-8'))
assert $3, data
" "$2" 2> "$tmp/json.err"; then
		fail "$1: $(tail -n 3 "$tmp/json.err")"
	fi
}

# Every import format into a store of its own: FILE, KEY, PASSWORD-FILE.
# (Shell functions share variables, hence the prefixed names.)
import_case() {
	case_name=$1 case_file=$2 case_key=$3 case_password=$4
	case_store=$tmp/store-$case_name
	set -- import --store "$case_store" "$pki/$case_file"
	[ -n "$case_key" ] && set -- "$@" --key "$pki/$case_key"
	[ -n "$case_password" ] && set -- "$@" --password-file "$pki/$case_password"
	expect_ok "import-$case_name" "$@"
	expect_in "import-$case_name.out" "imported"
	expect_ok "list-$case_name" identities --store "$case_store" --json
	json_check "list-$case_name" "$tmp/list-$case_name.out" "len(data) == 1"
}

import_case bundle leaves/rsa2048/bundle.pem "" ""
import_case bom-crlf formats/bundle-bom-crlf.pem "" ""
import_case separate formats/separate-cert.pem formats/separate-key.pem ""
import_case traditional-rsa formats/rsa3072.pem \
	formats/rsa3072-traditional-encrypted.key passwords/plain
import_case traditional-ec formats/p384.pem \
	formats/p384-traditional-encrypted.key passwords/plain
import_case pkcs8 formats/ed25519.pem formats/ed25519-pkcs8-encrypted.key \
	passwords/plain
import_case p12-modern formats/modern.p12 "" passwords/plain
import_case p12-legacy formats/legacy.p12 "" passwords/plain
import_case p12-empty formats/empty-password.p12 "" ""
import_case p12-none formats/no-password.p12 "" ""
import_case p12-utf8 formats/utf8-password.p12 "" passwords/utf8

# A key that was encrypted stays so, as standard PKCS #8 that OpenSSL
# opens with the same password.
store_file=$(ls "$tmp/store-p12-modern"/*.pem)
if grep -q 'BEGIN PRIVATE KEY' "$store_file"; then
	fail "the key of modern.p12 is stored in clear"
fi
if ! openssl pkey -in "$store_file" -passin "file:$pki/passwords/plain" \
	-noout 2> /dev/null; then
	fail "openssl cannot decrypt the stored key with its password"
fi
if openssl pkey -in "$store_file" -passin pass:wrong -noout 2> /dev/null; then
	fail "the stored key opens with a wrong password"
fi
sed -n '/BEGIN ENCRYPTED/,/END ENCRYPTED/p' "$store_file" |
	openssl asn1parse > "$tmp/asn1" 2>&1 || true
for text in PBES2 PBKDF2 hmacWithSHA256 aes-256-cbc; do
	expect_in asn1 "$text"
done
expect_ok list-locked identities --store "$tmp/store-p12-modern"
expect_in list-locked.out "encrypted"
json_check list-locked-json "$tmp/list-p12-modern.out" \
	"data[0]['locked'] is True and data[0]['label'] == 'rsa2048 from modern'"

# An old PEM key encrypted with single DES needs the legacy provider,
# which certpick loads for itself.
if openssl rsa -in "$pki/leaves/rsa3072/key.pem" -traditional -des \
	-passout "file:$pki/passwords/plain" -provider legacy \
	-provider default -out "$tmp/des.key" 2> /dev/null; then
	expect_ok import-des import --store "$tmp/store-des" \
		"$pki/leaves/rsa3072/cert.pem" --key "$tmp/des.key" \
		--password-file "$pki/passwords/plain"
else
	echo "note: openssl cannot write DES keys here; DES case skipped" >&2
fi

# Error messages name the file and the fix.
expect_status 1 mismatch import --store "$tmp/store-x" \
	"$pki/formats/mismatch-cert.pem" --key "$pki/formats/mismatch-key.pem"
expect_in mismatch.err "mismatch-key.pem"
expect_in mismatch.err "does not belong"
expect_status 1 wrong-password import --store "$tmp/store-x" \
	"$pki/formats/modern.p12" --password-file "$pki/passwords/utf8"
expect_in wrong-password.err "wrong password for $pki/formats/modern.p12"
expect_status 2 usage import --store "$tmp/store-x"
expect_in usage.err "the FILE to import is missing"
expect_status 2 remove-usage remove --store "$tmp/store-x"
expect_in remove-usage.err "the ID to remove is missing"
if [ -n "$(ls -A "$tmp/store-x")" ]; then
	fail "failed imports left files: $(ls -A "$tmp/store-x")"
fi

# With neither a terminal nor a password file, import fails at once.
start=$(date +%s)
status=0
setsid -w timeout 30 "$cli" import --store "$tmp/store-x" \
	"$pki/formats/legacy.p12" < /dev/null > "$tmp/no-tty.out" \
	2> "$tmp/no-tty.err" || status=$?
cat "$tmp/no-tty.out" "$tmp/no-tty.err" >> "$outputs"
elapsed=$(($(date +%s) - start))
[ "$status" -eq 1 ] || fail "no-tty: exit status $status, expected 1"
[ "$elapsed" -le 5 ] || fail "no-tty: took $elapsed s; it must not wait"
expect_in no-tty.err "no password was given"
expect_in no-tty.err "--password-file"

# At a terminal, the password is asked without echo; a wrong one is asked
# again.
if "$python" "$here/tty-import.py" "$tmp/tty.log" wrong "$plain_password" \
	-- "$cli" import --store "$tmp/store-tty" "$pki/formats/legacy.p12" \
	> /dev/null 2>&1; then
	cat "$tmp/tty.log" >> "$outputs"
	expect_in tty.log "Password for $pki/formats/legacy.p12: "
	expect_in tty.log "Wrong password. Password for"
	expect_in tty.log "imported"
else
	fail "import at a terminal failed: $(cat "$tmp/tty.log" 2> /dev/null)"
fi

# Duplicates are not an error.
expect_ok duplicate import --store "$tmp/store-bundle" \
	"$pki/leaves/rsa2048/bundle.pem"
expect_in duplicate.out "already in the store"
if [ -s "$tmp/duplicate.err" ]; then
	fail "duplicate import without --label warns: $(cat "$tmp/duplicate.err")"
fi

# A new --label on a duplicate is not applied, and the warning explains
# how to apply it.
expect_ok duplicate-label import --store "$tmp/store-bundle" \
	"$pki/leaves/rsa2048/bundle.pem" --label "Intranet"
expect_in duplicate-label.out "nothing changed"
expect_in duplicate-label.err "the label stays \"Alice RSA-2048\", not \"Intranet\""
expect_in duplicate-label.err "certpick remove"
expect_ok list-duplicate-label identities --store "$tmp/store-bundle"
if grep -q "Intranet" "$tmp/list-duplicate-label.out"; then
	fail "the label of a duplicate import changed"
fi

# An empty store is named; a --store folder that does not exist is an
# error for the commands that only read, and is not created.
mkdir -m 700 "$tmp/store-empty"
expect_ok list-empty identities --store "$tmp/store-empty"
expect_in list-empty.out "No identities in the store $tmp/store-empty."
for command in identities match "remove 0123456789abcdef"; do
	name=missing-store-${command%% *}
	# shellcheck disable=SC2086 # the command's words are meant to split
	expect_status 1 "$name" $command --store "$tmp/store-typo"
	expect_in "$name.err" "the store $tmp/store-typo does not exist"
done
if [ -e "$tmp/store-typo" ]; then
	fail "a command that only reads created the store $tmp/store-typo"
fi

# Words that other tools use for these commands point to certpick's.
expect_status 2 synonym-list list
expect_in synonym-list.err "did you mean 'certpick identities'?"
expect_status 2 synonym-rm rm
expect_in synonym-rm.err "did you mean 'certpick remove'?"
expect_status 2 unknown-command frobnicate
expect_in unknown-command.err "unknown command 'frobnicate'"

# The matcher over every leaf of the PKI.
all=$tmp/store-all
for leaf in $(cut -f1 "$pki/manifest.tsv"); do
	expect_ok "import-all-$leaf" import --store "$all" \
		"$pki/leaves/$leaf/bundle.pem"
done
leaves=$(wc -l < "$pki/manifest.tsv")

# An import that no request could accept gets a warning at once.
expect_in import-all-expired.err "\"Alice Expired\" cannot be used for TLS client authentication now (expired)"
expect_in import-all-server-eku.err "(no-client-auth-eku)"
if [ -s "$tmp/import-all-p256.err" ]; then
	fail "importing a usable identity warns: $(cat "$tmp/import-all-p256.err")"
fi

expect_ok match-any match --store "$all"
expect_in match-any.out "none named, so every issuer is accepted"
expect_in match-any.out "reasons:  expired"

expect_ok match-inter match --store "$all" --ca-file "$pki/ca/inter.pem" \
	--host example.test --port 443 --json
json_check match-inter-fields "$tmp/match-inter.out" "len(data) == $leaves and all(
    set(['id', 'label', 'subject', 'issuer', 'not_after', 'eligible',
         'reasons']) <= set(x) for x in data)"
json_check match-inter-eligible "$tmp/match-inter.out" "sorted(
    x['label'] for x in data if x['eligible']) == sorted(['Alice RSA-2048',
    'Alice P-256', 'Jürgen Müller – Δοκιμή 証明書'])"
json_check match-inter-first "$tmp/match-inter.out" \
	"[x['eligible'] for x in data] == sorted(
	    [x['eligible'] for x in data], reverse=True)"
json_check match-inter-utf8 "$tmp/match-inter.out" "any(x['subject'] ==
    'CN=Jürgen Müller – Δοκιμή 証明書,O=Zertifizierte Ärzte GmbH'
    for x in data)"
json_check match-inter-reasons "$tmp/match-inter.out" "[x['reasons'] for x in
    data if x['label'] == 'Alice Expired'] == [['issuer-not-accepted',
    'expired']]"

# A DER-encoded name, as a server sends it: the subject of root's
# certificate, cut out of its DER (the sixth element of tbsCertificate).
openssl x509 -in "$pki/ca/root.pem" -outform DER -out "$tmp/root.der"
subject=$(openssl asn1parse -inform DER -in "$tmp/root.der" |
	awk '/d=2/ { n++; if (n == 6) print }')
offset=$(echo "$subject" | sed 's/^ *\([0-9]*\):.*/\1/')
header=$(echo "$subject" | sed 's/.*hl= *\([0-9]*\).*/\1/')
length=$(echo "$subject" | sed 's/.* l= *\([0-9]*\).*/\1/')
dd if="$tmp/root.der" of="$tmp/root-name.der" bs=1 skip="$offset" \
	count=$((header + length)) 2> /dev/null
expect_ok match-der match --store "$all" --ca-der "$tmp/root-name.der" --json
json_check match-der "$tmp/match-der.out" "sorted(x['label'] for x in data
    if 'issuer-not-accepted' in x['reasons']) == ['Alice Elsewhere']"
json_check match-der-given "$tmp/match-der.out" \
	"all(x['ca_names_given'] for x in data)"
expect_ok match-der-cert match --store "$all" --ca-der "$tmp/root.der" --json
expect_status 1 match-der-pem match --store "$all" --ca-der "$pki/ca/root.pem"
expect_in match-der-pem.err "give a PEM file with --ca-file"
json_check match-der-cert "$tmp/match-der-cert.out" "sorted(x['label'] for x
    in data if 'issuer-not-accepted' in x['reasons']) == ['Alice Elsewhere']"

expect_ok match-sigalgs match --store "$all" --sigalgs ed25519,nonsense --json
expect_in match-sigalgs.err "unknown signature scheme 'nonsense'"
json_check match-sigalgs "$tmp/match-sigalgs.out" "[x['label'] for x in data
    if x['eligible']] == ['Alice Ed25519']"
expect_status 2 match-bad-port match --store "$all" --port 70000
# TLS 1.2 allows PKCS #1 v1.5, which the version's other spelling, as in
# Select's tls_version, must select too.
expect_ok match-tls12 match --store "$all" --tls-version TLSv1.2 \
	--sigalgs rsa_pkcs1_sha256 --json
json_check match-tls12 "$tmp/match-tls12.out" "'Alice RSA-2048' in [x['label']
    for x in data if x['eligible']]"
expect_status 2 match-bad-version match --store "$all" --tls-version TLSv1.1
expect_in match-bad-version.err "invalid TLS version 'TLSv1.1'"
expect_in match-bad-port.err "invalid port '70000'"
expect_status 1 match-missing-ca match --store "$all" \
	--ca-file "$tmp/missing.pem"
expect_in match-missing-ca.err "cannot open $tmp/missing.pem"

# Listing and removal.
expect_ok list-all identities --store "$all"
expect_in list-all.out "Alice Expired"
expect_ok list-all-json identities --store "$all" --json
json_check list-all-json "$tmp/list-all-json.out" "len(data) == $leaves"
id=$(sed -n 's/^imported "Alice Expired" as \([0-9a-f]*\)$/\1/p' \
	"$tmp/import-all-expired.out")
expect_ok remove remove --store "$all" "$(echo "$id" | cut -c1-12)"
expect_in remove.out "removed \"Alice Expired\""
expect_ok list-after-remove identities --store "$all"
if grep -q "Alice Expired" "$tmp/list-after-remove.out"; then
	fail "Alice Expired is still listed after remove"
fi
expect_status 1 remove-again remove --store "$all" "$id"
expect_in remove-again.err "no identity with id"

# A store that others can write is rejected with the fix.
chmod 0777 "$all"
expect_status 1 writable identities --store "$all"
expect_in writable.err "$all"
expect_in writable.err "chmod 700"
chmod 0700 "$all"

# No password in any output, nor in any store file.
for password in "$plain_password" "$utf8_password"; do
	if grep -qF -- "$password" "$outputs"; then
		fail "a password appears in the output"
	fi
	if grep -rqF -- "$password" "$tmp"/store-*; then
		fail "a password appears in a store file"
	fi
done

if [ "$failures" -gt 0 ]; then
	echo "$failures checks failed" >&2
	exit 1
fi
echo "all checks passed"
