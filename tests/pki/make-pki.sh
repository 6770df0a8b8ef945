#!/bin/sh
# Creates the test PKI in DIR, replacing an earlier one: certificate
# authorities, a server certificate for loopback, and client identities
# that cover every matcher verdict, key type and import format. No key is
# committed; the build runs this before the tests.
#
#   tests/pki/make-pki.sh DIR
#
# DIR/manifest.tsv lists every client identity: name, key type, issuing CA,
# and the files it comes in. Passwords are in DIR/passwords/.
set -eu

out=${1:?usage: make-pki.sh DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$out"
rm -rf ca leaves formats server passwords ca.cnf manifest.tsv manifest.tmp \
	manifest.tsv.new
umask 077

# Days of validity for current certificates; far enough for long-lived
# build folders, within the range that 32-bit time_t can hold.
days=3650

mkdir -p ca leaves passwords server
printf '%s' 'correct horse battery staple' > passwords/plain
printf '%s' 'pässwörd-ünïcödé' > passwords/utf8
printf '' > passwords/empty

# An OpenSSL "ca" configuration, so that leaves can have any validity
# period (expired and not-yet-valid ones among them).
cat > ca.cnf <<'EOF'
[ca]
default_ca = test_ca

[test_ca]
dir = .
database = $dir/ca/index.txt
new_certs_dir = $dir/ca/new
serial = $dir/ca/serial
default_md = sha256
policy = any_policy
unique_subject = no
copy_extensions = none
email_in_dn = no
utf8 = yes
string_mask = utf8only

[any_policy]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
emailAddress = optional

[req]
distinguished_name = req_dn
prompt = no
utf8 = yes
string_mask = utf8only

[req_dn]
CN = unused

[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[client]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[client_san]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth, emailProtection
subjectAltName = email:alice@example.test, email:alice.work@example.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[client_no_eku]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature

[client_any_eku]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = anyExtendedKeyUsage

[server_eku]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth

[key_encipherment]
basicConstraints = critical, CA:false
keyUsage = critical, keyEncipherment
extendedKeyUsage = clientAuth

[server]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
EOF
mkdir -p ca/new
: > ca/index.txt
echo 1000 > ca/serial

newkey() { # TYPE FILE
	case $1 in
	rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$2" ;;
	rsa3072) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$2" ;;
	p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2" ;;
	p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$2" ;;
	ed25519) openssl genpkey -algorithm ED25519 -out "$2" ;;
	*) echo "make-pki.sh: unknown key type $1" >&2; exit 1 ;;
	esac 2>/dev/null
}

# make_ca NAME SUBJECT [ISSUER]: a self-signed root, or an intermediate.
make_ca() {
	newkey p256 "ca/$1.key"
	openssl req -config ca.cnf -new -key "ca/$1.key" -subj "$2" \
		-out "ca/$1.csr"
	if [ $# -lt 3 ]; then
		openssl ca -batch -config ca.cnf -selfsign -keyfile "ca/$1.key" \
			-in "ca/$1.csr" -out "ca/$1.pem" -extensions v3_ca \
			-days $days -notext 2>/dev/null
	else
		openssl ca -batch -config ca.cnf -cert "ca/$3.pem" \
			-keyfile "ca/$3.key" -in "ca/$1.csr" -out "ca/$1.pem" \
			-extensions v3_ca -days $days -notext 2>/dev/null
	fi
}

# make_leaf NAME KEYTYPE ISSUER EXTENSIONS SUBJECT [START END]
make_leaf() {
	dir=leaves/$1
	mkdir -p "$dir"
	newkey "$2" "$dir/key.pem"
	openssl req -config ca.cnf -new -key "$dir/key.pem" -subj "$5" \
		-out "$dir/req.csr"
	if [ $# -ge 7 ]; then
		validity="-startdate $6 -enddate $7"
	else
		validity="-days $days"
	fi
	# shellcheck disable=SC2086
	openssl ca -batch -config ca.cnf -cert "ca/$3.pem" -keyfile "ca/$3.key" \
		-in "$dir/req.csr" -out "$dir/cert.pem" -extensions "$4" \
		$validity -notext 2>/dev/null
	rm -f "$dir/req.csr"

	# The chain up to (not including) the root, leaf's issuer first.
	: > "$dir/chain.pem"
	issuer=$3
	while [ -f "ca/$issuer.parent" ]; do
		cat "ca/$issuer.pem" >> "$dir/chain.pem"
		issuer=$(cat "ca/$issuer.parent")
	done
	cat "$dir/cert.pem" "$dir/chain.pem" "$dir/key.pem" > "$dir/bundle.pem"
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> manifest.tmp
}

make_ca root "/O=certpick test/CN=certpick Test Root CA"
make_ca inter "/O=certpick test/CN=certpick Test Intermediate CA" root
echo root > ca/inter.parent
make_ca other-root "/O=Elsewhere/CN=Unrelated Root CA"
make_ca server-ca "/O=certpick test/CN=certpick Test Server CA"

# The server certificate for nginx, openssl s_server and gnutls-serv.
newkey p256 server/key.pem
openssl req -config ca.cnf -new -key server/key.pem \
	-subj "/O=certpick test server/CN=localhost" -out server/req.csr
openssl ca -batch -config ca.cnf -cert ca/server-ca.pem -keyfile ca/server-ca.key \
	-in server/req.csr -out server/cert.pem -extensions server -days $days \
	-notext 2>/dev/null
rm -f server/req.csr

: > manifest.tmp
make_leaf rsa2048 rsa2048 inter client_san "/O=certpick test/CN=Alice RSA-2048"
make_leaf rsa3072 rsa3072 root client "/O=certpick test/CN=Alice RSA-3072"
make_leaf p256 p256 inter client "/O=certpick test/CN=Alice P-256"
make_leaf p384 p384 root client "/O=certpick test/CN=Alice P-384"
make_leaf ed25519 ed25519 root client "/O=certpick test/CN=Alice Ed25519"
make_leaf no-eku p256 root client_no_eku "/O=certpick test/CN=Alice No EKU"
make_leaf any-eku p256 root client_any_eku "/O=certpick test/CN=Alice Any EKU"
make_leaf utf8 p256 inter client \
	"/O=Zertifizierte Ärzte GmbH/CN=Jürgen Müller – Δοκιμή 証明書"
make_leaf expired p256 root client "/O=certpick test/CN=Alice Expired" \
	20200101000000Z 20210101000000Z
make_leaf not-yet-valid p256 root client "/O=certpick test/CN=Alice Future" \
	20900101000000Z 20910101000000Z
make_leaf server-eku p256 root server_eku "/O=certpick test/CN=Alice Server EKU"
make_leaf key-encipherment rsa2048 root key_encipherment \
	"/O=certpick test/CN=Alice Key Encipherment"
make_leaf other-issuer p256 other-root client "/O=Elsewhere/CN=Alice Elsewhere"
mv manifest.tmp manifest.tsv.new

# Import formats, made from the leaves above.
formats=formats
mkdir -p $formats
pw=passwords/plain
cp leaves/p256/cert.pem $formats/separate-cert.pem
cp leaves/p256/key.pem $formats/separate-key.pem

# A bundle in another order, with CRLF line ends and a UTF-8 byte-order mark.
printf '\357\273\277' > $formats/bundle-bom-crlf.pem
cat leaves/rsa2048/key.pem leaves/rsa2048/chain.pem leaves/rsa2048/cert.pem |
	sed 's/$/\r/' >> $formats/bundle-bom-crlf.pem

# Encrypted keys: traditional PEM ("Proc-Type: 4,ENCRYPTED") and PKCS #8.
openssl rsa -in leaves/rsa3072/key.pem -traditional -aes256 \
	-passout "file:$pw" -out $formats/rsa3072-traditional-encrypted.key 2>/dev/null
cp leaves/rsa3072/cert.pem $formats/rsa3072.pem
openssl ec -in leaves/p384/key.pem -aes256 -passout "file:$pw" \
	-out $formats/p384-traditional-encrypted.key 2>/dev/null
cp leaves/p384/cert.pem $formats/p384.pem
openssl pkcs8 -topk8 -in leaves/ed25519/key.pem -v2 aes-256-cbc \
	-passout "file:$pw" -out $formats/ed25519-pkcs8-encrypted.key
cp leaves/ed25519/cert.pem $formats/ed25519.pem

# PKCS #12: modern (AES-256, PBKDF2), legacy (RC2-40 and 3DES, as old
# exports are), an empty password, no password at all, a non-ASCII one.
p12() { # NAME LEAF PASSWORD-SOURCE EXTRA...
	name=$1 leaf=$2 passout=$3
	shift 3
	if [ -s leaves/$leaf/chain.pem ]; then
		set -- -certfile leaves/$leaf/chain.pem "$@"
	fi
	openssl pkcs12 -export -in leaves/$leaf/cert.pem \
		-inkey leaves/$leaf/key.pem -name "$leaf from $name" \
		-passout "$passout" -out $formats/$name.p12 "$@"
}
p12 modern rsa2048 "file:$pw"
p12 legacy p256 "file:$pw" -legacy
p12 empty-password ed25519 pass:
p12 no-password rsa3072 pass: -keypbe NONE -certpbe NONE -nomac
p12 utf8-password utf8 file:passwords/utf8

# A certificate with somebody else's key, which import must reject.
cp leaves/p256/cert.pem $formats/mismatch-cert.pem
cp leaves/any-eku/key.pem $formats/mismatch-key.pem

mv manifest.tsv.new manifest.tsv
