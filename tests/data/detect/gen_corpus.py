#!/usr/bin/env python3
"""gen_corpus.py - generate the labelled detector corpus (corpus.jsonl).

Seeded and stdlib-only, so the corpus is reproducible:

    python3 tests/data/detect/gen_corpus.py > tests/data/detect/corpus.jsonl

Every value is built from its documented format (Luhn check digits for
cards, ISO 13616 mod-97 for IBANs, SSA rules for SSNs, GitHub's CRC32
checksum, RFC 7519 for JWTs, RFC 7468 for key blocks, ...) and embedded in
a context: chat, email, code, config, terminal, form or window title.

Each line is {"id", "text", "context", "class", "spans"} with spans as
[{"start", "end", "type"}] in UTF-8 byte offsets.  "class" is the positive
type, a hard-negative class ("neg_uuid", ...) or "clean".  Lines with no
spans are the clean lines the false-alarm rate is measured on.

The labelling rules (what counts as which type, where a span starts and
ends) are written in docs/DETECTORS.md; this script follows them and does
not look at the detectors.
"""
import base64
import binascii
import json
import random
import string
import sys

SEED = 20240501
R = random.Random(SEED)

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
B64 = string.ascii_letters + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"

FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
         "ivan", "judy", "mallory", "oscar", "peggy", "trent", "victor",
         "walter", "jose", "marie", "lena", "yuki", "priya", "omar", "zoe",
         "jürgen", "chloé"]
LAST = ["smith", "jones", "garcia", "miller", "davis", "müller", "schmidt",
        "rossi", "dubois", "tanaka", "kumar", "nguyen", "kowalski", "silva"]
DOMAINS = ["example.com", "gmail.com", "company.de", "uni-heidelberg.de",
           "mail.example.org", "acme.co.uk", "startup.io", "proton.me",
           "outlook.com", "dept.example.ac.uk"]


def rs(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def ascii_name(s):
    return s.replace("ü", "ue").replace("é", "e")


# ---------------------------------------------------------------- values

def v_email():
    f, l = ascii_name(R.choice(FIRST)), ascii_name(R.choice(LAST))
    local = R.choice([f + "." + l, f[0] + l, f + "_" + l, f + str(R.randint(1, 99)),
                      f + "+" + R.choice(["news", "shop", "work"])])
    return local + "@" + R.choice(DOMAINS)


def digits(n, first="123456789"):
    return R.choice(first) + rs(string.digits, n - 1)


def v_phone():
    k = R.randrange(12)
    a = R.choice("23456789") + rs(string.digits, 2)
    e = R.choice("23456789") + rs(string.digits, 2)
    x = rs(string.digits, 4)
    if k == 0:
        return "+1 %s %s %s" % (a, e, x)
    if k == 1:
        return "+1-%s-%s-%s" % (a, e, x)
    if k == 2:
        return "(%s) %s-%s" % (a, e, x)
    if k == 3:
        return "%s-%s-%s" % (a, e, x)
    if k == 4:
        return "%s.%s.%s" % (a, e, x)
    if k == 5:
        return "+44 20 %s %s" % (digits(4), rs(string.digits, 4))
    if k == 6:
        return "+44 7%s %s" % (rs(string.digits, 3), rs(string.digits, 6))
    if k == 7:
        return "+49 30 %s" % digits(8)
    if k == 8:
        return "+49 151 %s" % digits(8)
    if k == 9:
        return "+33 %d %s %s %s %s" % (R.randint(1, 9), *(rs(string.digits, 2) for _ in range(4)))
    if k == 10:
        return "+%d%s%s%s" % (1, a, e, x)
    return R.choice(["020 %s %s" % (digits(4), rs(string.digits, 4)),
                     "030 %s" % digits(8),
                     "0151 %s" % digits(8),
                     "+91 9%s %s" % (rs(string.digits, 4), rs(string.digits, 5)),
                     "+81 3-%s-%s" % (rs(string.digits, 4), rs(string.digits, 4)),
                     "+61 2 %s %s" % (digits(4), rs(string.digits, 4))])


def luhn_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def card_number(valid=True):
    brand = R.choice(["visa", "visa", "mc", "mc2", "amex", "disc"])
    pre, n = {"visa": ("4", 16), "mc": (str(R.randint(51, 55)), 16),
              "mc2": (str(R.randint(2221, 2720)), 16), "amex": (R.choice(["34", "37"]), 15),
              "disc": ("6011", 16)}[brand]
    body = pre + rs(string.digits, n - len(pre) - 1)
    check = luhn_digit(body)
    if not valid:
        check = str((int(check) + R.randint(1, 9)) % 10)
    return body + check


def fmt_card(num):
    sep = R.choice([" ", " ", "-", ""])
    if len(num) == 15:
        g = [num[:4], num[4:10], num[10:]]
    else:
        g = [num[i:i + 4] for i in range(0, len(num), 4)]
    return sep.join(g)


def v_card():
    if R.random() < 0.1:
        return R.choice(["4111 1111 1111 1111", "5555 5555 5555 4444",
                         "3782 822463 10005", "4242424242424242"])
    return fmt_card(card_number())


def v_ssn():
    while True:
        a = R.randint(1, 899)
        if a != 666:
            break
    s = "%03d-%02d-%04d" % (a, R.randint(1, 99), R.randint(1, 9999))
    return s if R.random() < 0.85 else s.replace("-", " ")


IBAN_FMT = {"DE": "n18", "GB": "a4n14", "FR": "n23", "NL": "a4n10", "ES": "n20",
            "IT": "a1n22", "CH": "n17", "AT": "n16", "BE": "n12", "PL": "n24"}


def iban():
    cc = R.choice(sorted(IBAN_FMT))
    f = IBAN_FMT[cc]
    bban = ""
    i = 0
    while i < len(f):
        kind = f[i]
        j = i + 1
        while j < len(f) and f[j].isdigit():
            j += 1
        n = int(f[i + 1:j])
        bban += rs(string.ascii_uppercase if kind == "a" else string.digits, n)
        i = j
    num = "".join(str(int(c, 36)) for c in bban + cc + "00")
    check = 98 - int(num) % 97
    return cc + "%02d" % check + bban


def v_iban():
    s = iban()
    if R.random() < 0.6:
        s = " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    return s


def v_ip():
    if R.random() < 0.7:
        k = R.randrange(4)
        if k == 0:
            o = [10, R.randint(0, 255), R.randint(0, 255), R.randint(1, 254)]
        elif k == 1:
            o = [192, 168, R.randint(0, 255), R.randint(1, 254)]
        elif k == 2:
            o = [172, R.randint(16, 31), R.randint(0, 255), R.randint(1, 254)]
        else:
            o = [R.randint(11, 223), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254)]
            if o[0] == 127:
                o[0] = 128
        return ".".join(map(str, o))
    groups = ["%x" % R.randint(1, 0xffff) for _ in range(8)]
    k = R.randrange(3)
    if k == 0:
        return ":".join(groups)
    if k == 1:
        return "2001:db8:%s::%s:%s" % (groups[0], groups[1], groups[2])
    return "fe80::%s:%s:%s:%s" % tuple(groups[:4])


def v_aws_id():
    if R.random() < 0.1:
        return "AKIAIOSFODNN7EXAMPLE"
    return R.choice(["AKIA", "AKIA", "ASIA"]) + rs(string.ascii_uppercase + "234567", 16)


def v_aws_secret():
    if R.random() < 0.1:
        return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    while True:
        s = rs(B64, 40)
        if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
            return s


def b62(n, width):
    out = ""
    while n:
        out = B62[n % 62] + out
        n //= 62
    return out.rjust(width, "0")


def v_github():
    if R.random() < 0.2:
        return "github_pat_" + rs(ALNUM, 22) + "_" + rs(ALNUM, 59)
    body = rs(B62, 30)
    return "gh" + R.choice("pousr") + "_" + body + b62(binascii.crc32(body.encode()), 6)


def v_slack():
    k = R.randrange(3)
    if k == 0:
        return "xoxb-%s-%s-%s" % (digits(12), digits(13), rs(ALNUM, 24))
    if k == 1:
        return "xoxp-%s-%s-%s-%s" % (digits(12), digits(12), digits(13), rs("0123456789abcdef", 32))
    return "https://hooks.slack.com/services/T%s/B%s/%s" % (
        rs(string.ascii_uppercase + string.digits, 8), rs(string.ascii_uppercase + string.digits, 10),
        rs(ALNUM, 24))


def v_stripe():
    if R.random() < 0.2:
        return "whsec_" + rs(ALNUM, 32)
    return R.choice(["sk_live_", "sk_test_", "rk_live_"]) + rs(ALNUM, R.choice([24, 34, 99]))


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def v_jwt():
    hdr = json.dumps({"alg": R.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}, separators=(",", ":"))
    pay = json.dumps({"sub": str(R.randint(1, 10**9)), "name": R.choice(FIRST).title(),
                      "iat": R.randint(1500000000, 1800000000)}, separators=(",", ":"))
    return b64url(hdr.encode()) + "." + b64url(pay.encode()) + "." + rs(B64URL, R.choice([43, 86]))


def v_privkey():
    kind = R.choice(["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "])
    lines = [rs(B64, 64) for _ in range(R.randint(2, 6))] + [rs(B64, R.randint(8, 60)) + "=="]
    return "-----BEGIN %sPRIVATE KEY-----\n%s\n-----END %sPRIVATE KEY-----" % (kind, "\n".join(lines), kind)


def v_google():
    if R.random() < 0.2:
        return "GOCSPX-" + rs(B64URL, 28)
    return "AIza" + rs(B64URL, 35)


def v_generic_value():
    k = R.randrange(3)
    if k == 0:
        return rs("0123456789abcdef", R.choice([32, 48, 64]))
    if k == 1:
        return rs(ALNUM, R.choice([20, 24, 32, 36]))
    return rs(ALNUM, 8) + rs(ALNUM + "-_", 16) + rs(ALNUM, 8)


PASSWORDS = ["hunter2x", "Summer2024!", "correct-horse-7", "P@ssw0rd99", "tr0ub4dor&3",
             "Geheim!123", "letmein42", "qwerty!2025", "MyDogRex#1", "s3cr3tSauce"]


def v_password():
    return R.choice(PASSWORDS) if R.random() < 0.5 else rs(ALNUM + "!#%&*+-?@", R.randint(8, 16))


# ---------------------------------------------------------------- contexts
#
# A template is a list of parts: plain strings and None for "the value".

def T(*parts):
    return list(parts)


CTX = {
    "EMAIL": [
        ("chat", T("hey, can you send it to ", None, " before noon?")),
        ("email", T("From: Jürgen Müller <", None, ">\nSubject: Re: quarterly numbers")),
        ("form", T("E-mail address: ", None)),
        ("title", T("Inbox - ", None, " - Mozilla Thunderbird")),
        ("code", T("git config user.email \"", None, "\"")),
        ("terminal", T("$ ssh-keygen -t ed25519 -C \"", None, "\"")),
    ],
    "PHONE": [
        ("chat", T("call me at ", None, " when you land")),
        ("email", T("Best regards,\nLena\nTel. ", None)),
        ("form", T("Phone number: ", None)),
        ("title", T(None, " - Google Search - Chromium")),
        ("config", T("support_phone: \"", None, "\"")),
    ],
    "CREDIT_CARD": [
        ("chat", T("use my card ", None, " for the hotel")),
        ("form", T("Card number: ", None, "  Expiry: 09/27")),
        ("email", T("Please charge ", None, " for the invoice.")),
        ("terminal", T("$ ./pay --card ", None, " --amount 12.50")),
    ],
    "SSN": [
        ("form", T("Social Security Number: ", None)),
        ("chat", T("my ssn is ", None, ", don't share it")),
        ("email", T("Employee: R. Silva, SSN ", None, ", start date 2024-03-01")),
        ("title", T("W-4 form ", None, ".pdf - Document Viewer")),
    ],
    "IBAN": [
        ("email", T("Please transfer the deposit to IBAN ", None, " by Friday.")),
        ("form", T("IBAN: ", None)),
        ("chat", T("meine IBAN ist ", None, ", danke!")),
        ("config", T("payout_iban = \"", None, "\"")),
    ],
    "IP_ADDRESS": [
        ("terminal", T("$ ssh admin@", None)),
        ("config", T("server_ip = ", None)),
        ("chat", T("the VPN box is at ", None, " now")),
        ("terminal", T("64 bytes from ", None, ": icmp_seq=1 ttl=57 time=11.2 ms")),
        ("title", T("RDP - ", None, " - Remote Desktop")),
    ],
    "AWS_ACCESS_KEY": [
        ("config", T("aws_access_key_id = ", None)),
        ("terminal", T("$ export AWS_ACCESS_KEY_ID=", None)),
        ("chat", T("the key id is ", None, " for the staging bucket")),
        ("code", T("client = boto3.client(\"s3\", aws_access_key_id=\"", None, "\")")),
    ],
    "AWS_SECRET_KEY": [
        ("config", T("aws_secret_access_key = ", None)),
        ("terminal", T("$ export AWS_SECRET_ACCESS_KEY=", None)),
        ("code", T("AWS_SECRET_KEY = \"", None, "\"")),
        ("terminal", T("AWS Secret Access Key [None]: ", None)),
        ("chat", T("aws secret for staging: ", None)),
    ],
    "GITHUB_TOKEN": [
        ("terminal", T("$ git clone https://", None, "@github.com/acme/infra.git")),
        ("config", T("GH_TOKEN=", None)),
        ("chat", T("here is the PAT: ", None, " (expires friday)")),
        ("code", T("headers = {\"Authorization\": \"token ", None, "\"}")),
    ],
    "SLACK_TOKEN": [
        ("config", T("SLACK_BOT_TOKEN=", None)),
        ("code", T("slack_client = WebClient(token=\"", None, "\")")),
        ("chat", T("webhook/token for alerts: ", None)),
        ("terminal", T("$ curl -X POST ", None, " -d @msg.json")),
    ],
    "STRIPE_KEY": [
        ("config", T("STRIPE_SECRET_KEY=", None)),
        ("code", T("stripe.api_key = \"", None, "\"")),
        ("chat", T("stripe secret is ", None, " - rotate after the demo")),
        ("terminal", T("$ stripe listen --api-key ", None)),
    ],
    "JWT": [
        ("terminal", T("$ curl -H \"Authorization: Bearer ", None, "\" https://api.example.com/me")),
        ("code", T("const token = \"", None, "\";")),
        ("chat", T("session cookie was ", None)),
        ("config", T("id_token: ", None)),
    ],
    "PRIVATE_KEY": [
        ("terminal", T("$ cat ~/.ssh/id_rsa\n", None)),
        ("config", T("tls:\n  key: |\n", None)),
        ("chat", T("here's the deploy key:\n", None, "\nplease don't share")),
    ],
    "API_KEY": [
        ("code", T("const MAPS_KEY = \"", None, "\";")),
        ("config", T("GOOGLE_API_KEY=", None)),
        ("terminal", T("$ curl \"https://maps.googleapis.com/maps/api/geocode/json?key=", None, "\"")),
        ("chat", T("use ", None, " for the maps widget")),
    ],
    "GENERIC_SECRET": [
        ("config", T("api_key = \"", None, "\"")),
        ("config", T("SESSION_SECRET=", None)),
        ("code", T("{\"client_secret\": \"", None, "\"}")),
        ("terminal", T("$ curl -H \"X-Api-Key: ", None, "\" https://api.example.net/v1/items")),
        ("chat", T("my api token is ", None)),
        ("code", T("headers[\"Authorization\"] = \"Bearer ", None, "\"")),
    ],
    "PASSWORD": [
        ("terminal", T("[sudo] password for alice: ", None)),
        ("terminal", T("Password: ", None)),
        ("form", T("Username: bob  Password: ", None)),
        ("chat", T("wifi password: ", None, " (guest network)")),
        ("config", T("DB_PASSWORD=", None)),
        ("code", T("{\"user\": \"admin\", \"password\": \"", None, "\"}")),
        ("chat", T("Passwort: ", None)),
        ("terminal", T("Enter passphrase for key '/home/alice/.ssh/id_ed25519': ", None)),
    ],
}

VALUES = {
    "EMAIL": v_email, "PHONE": v_phone, "CREDIT_CARD": v_card, "SSN": v_ssn,
    "IBAN": v_iban, "IP_ADDRESS": v_ip, "AWS_ACCESS_KEY": v_aws_id,
    "AWS_SECRET_KEY": v_aws_secret, "GITHUB_TOKEN": v_github, "SLACK_TOKEN": v_slack,
    "STRIPE_KEY": v_stripe, "JWT": v_jwt, "PRIVATE_KEY": v_privkey, "API_KEY": v_google,
    "GENERIC_SECRET": v_generic_value, "PASSWORD": v_password,
}


def build(parts, value, vtype):
    """Join parts, returning (text, spans) with byte offsets."""
    out = b""
    spans = []
    for p in parts:
        if p is None:
            b = value.encode()
            spans.append({"start": len(out), "end": len(out) + len(b), "type": vtype})
            out += b
        else:
            out += p.encode()
    return out.decode(), spans


# ---------------------------------------------------------------- negatives

def hexs(n):
    return rs("0123456789abcdef", n)


def uuid():
    h = hexs(32)
    return "%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16], R.choice("89ab"), h[17:20], h[20:32])


def neg_uuid():
    u = uuid()
    return R.choice(["request_id=%s status=200", "Trace: %s", "{\"id\": \"%s\", \"ok\": true}",
                     "docker rm %s", "INSERT INTO jobs VALUES ('%s', 3);",
                     "Correlation-ID: %s", "Order %s - Shop admin"]) % u


def neg_sha():
    return R.choice(["commit %s\nAuthor: CI Bot <ci@localhost>" % hexs(40),
                     "$ git checkout %s" % hexs(R.choice([7, 12, 40])),
                     "Merge %s..%s" % (hexs(7), hexs(7)),
                     "fixed in %s (see the changelog)" % hexs(40),
                     "HEAD is now at %s bump deps" % hexs(7),
                     "\"sha\": \"%s\"," % hexs(40)])


def neg_lockhash():
    b = base64.b64encode(bytes(R.getrandbits(8) for _ in range(64))).decode()
    return R.choice(["  \"integrity\": \"sha512-%s\"," % b,
                     "checksum = \"%s\"" % hexs(64),
                     "    --hash=sha256:%s" % hexs(64),
                     "  integrity sha512-%s" % b,
                     "\"content_hash\": \"sha256:%s\"" % hexs(64),
                     "h1:%s=" % base64.b64encode(bytes(R.getrandbits(8) for _ in range(32))).decode().rstrip("=")])


def neg_version():
    v3 = "%d.%d.%d" % (R.randint(0, 20), R.randint(0, 40), R.randint(0, 300))
    return R.choice(["Upgrading numpy %s -> %s" % (v3, "1.26.4"),
                     "Mozilla/5.0 Chrome/%d.0.%d.%d Safari/537.36" % (R.randint(100, 125), R.randint(4000, 6500), R.randint(10, 200)),
                     "Python %s on linux" % v3,
                     "Linux 6.1.0-%d-amd64 #1 SMP Debian 6.1.%d" % (R.randint(10, 30), R.randint(50, 120)),
                     "\"version\": \"%s-beta.%d\"," % (v3, R.randint(1, 9)),
                     "libssl.so.%s" % v3,
                     "Windows 10.0.%d.%d" % (R.randint(19041, 22631), R.randint(1000, 4000)),
                     "release v%d.%d.%d.%d is out" % (R.randint(1, 9), R.randint(0, 9), R.randint(0, 9), R.randint(0, 9))])


def neg_luhn():
    n = fmt_card(card_number(valid=False))
    return R.choice(["order number %s shipped" % n, "Ref: %s" % n, "tracking %s" % n,
                     "invoice %s due" % n])


def neg_timestamp():
    y, mo, d = R.randint(2015, 2030), R.randint(1, 12), R.randint(1, 28)
    h, mi, s = R.randint(0, 23), R.randint(0, 59), R.randint(0, 59)
    return R.choice(["%04d-%02d-%02dT%02d:%02d:%02dZ GET /index.html 200" % (y, mo, d, h, mi, s),
                     "[%04d-%02d-%02d %02d:%02d:%02d.%06d] INFO worker started" % (y, mo, d, h, mi, s, R.randint(0, 999999)),
                     "ts=%d level=info" % R.randint(1500000000, 1800000000),
                     "created_at: %d" % R.randint(1500000000000, 1800000000000),
                     "Mon Jan %2d %02d:%02d:%02d UTC %d" % (d, h, mi, s, y),
                     "%02d/%02d/%04d %02d:%02d" % (d, mo, y, h, mi),
                     "uptime %02d:%02d:%02d" % (h, mi, s)])


def neg_b64img():
    b = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(R.getrandbits(8) for _ in range(R.randint(60, 240)))).decode()
    return R.choice(["<img src=\"data:image/png;base64,%s\">" % b,
                     "background: url(data:image/png;base64,%s);" % b,
                     "![logo](data:image/png;base64,%s)" % b])


def neg_placeholder():
    return R.choice(["API_KEY=${API_KEY}", "password: <YOUR_PASSWORD>", "token = \"xxxxxxxxxxxxxxxx\"",
                     "aws_secret_access_key = <YOUR_SECRET_KEY>", "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                     "STRIPE_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "Authorization: Bearer <token>",
                     "\"password\": \"********\"", "api_key: your-api-key-here",
                     "secret: {{ vault_secret }}", "export TOKEN=$GITHUB_TOKEN",
                     "client_secret = \"REPLACE_ME_WITH_SECRET\"", "aws_access_key_id = AKIAXXXXXXXXXXXXXXXX",
                     "DB_PASSWORD=%DB_PASSWORD%", "password = \"changeme\""])


def neg_publishable():
    return R.choice(["STRIPE_PUBLISHABLE_KEY=pk_live_%s" % rs(ALNUM, 24),
                     "const stripe = Stripe('pk_test_%s');" % rs(ALNUM, 24),
                     "publishableKey: \"pk_live_%s\"" % rs(ALNUM, 34)])


def neg_loopback():
    return R.choice(["listening on 127.0.0.1:%d" % R.randint(1024, 65535),
                     "netmask 255.255.255.%d" % R.choice([0, 128, 192, 224, 240]),
                     "inet 127.0.0.1/8 scope host lo", "bind-address = 0.0.0.0",
                     "ping ::1", "subnet mask: 255.255.%d.0" % R.choice([0, 240, 252, 255]),
                     "route add -net 10.0.0.0 netmask 255.0.0.0"])


NEG = {"neg_uuid": neg_uuid, "neg_sha": neg_sha, "neg_lockhash": neg_lockhash,
       "neg_version": neg_version, "neg_luhn": neg_luhn, "neg_timestamp": neg_timestamp,
       "neg_b64img": neg_b64img, "neg_placeholder": neg_placeholder,
       "neg_publishable": neg_publishable, "neg_loopback": neg_loopback}

CLEAN = [
    "The meeting moved to 10:30 in room 4B, bring the slides.",
    "We shipped 1,234 units in Q3 2024, up 12% on last year.",
    "$ make -j8 && sudo make install",
    "for (int i = 0; i < 10; i++) sum += a[i];",
    "Order #12345 total $99.95 incl. VAT",
    "Can you review my pull request when you have a minute?",
    "cd /usr/lib/x86_64-linux-gnu && ls -la",
    "curl http://localhost:8080/api/v1/health",
    "README.md - Visual Studio Code",
    "Terminal - bash - 80x24",
    "Thanks, see you tomorrow!",
    "Grüße aus München, bis bald 🙂",
    "The key to success is patience.",
    "Please reset your password using the link in the email.",
    "Token expired, please log in again.",
    "npm install --save-dev typescript@5.4.5",
    "error: cannot find module 'express' (code 127)",
    "Total: 3 files changed, 42 insertions(+), 7 deletions(-)",
    "Rechnung Nr. 2024-0815 vom 15.03.2024",
    "Wir sehen uns um 14 Uhr im Büro.",
    "def secret_santa(names): return shuffle(names)",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' LIMIT 50;",
    "docker run -p 5432:5432 postgres:16",
    "Monthly report (final) - LibreOffice Calc",
    "ETA 3-5 business days, tracking soon",
    "Zimmer 301, 3. Stock, Tel. intern 42",
    "x = np.linspace(0, 1, 1000)",
    "The password policy requires 12 characters.",
    "Slack - #general - Acme Corp",
    "Loading... 87% (1.2 GB of 1.4 GB)",
]


def clean_line():
    base = R.choice(CLEAN)
    r = R.random()
    if r < 0.3:
        return base
    if r < 0.6:
        return "%s %s" % (base, R.choice(["ok", "thanks", "done", "later", "(%d)" % R.randint(1, 999)]))
    words = ["the", "build", "failed", "again", "on", "main", "after", "merge", "we", "need",
             "to", "check", "logs", "for", "worker", "pool", "timeouts", "and", "retry", "policy"]
    return " ".join(R.choice(words) for _ in range(R.randint(5, 16))).capitalize() + "."


def main():
    lines = []
    for vtype, ctxs in CTX.items():
        for i in range(45):
            ctx, parts = ctxs[i % len(ctxs)]
            text, spans = build(parts, VALUES[vtype](), vtype)
            lines.append({"text": text, "context": ctx, "class": vtype, "spans": spans})
    # A few lines with two findings of different types.
    for _ in range(30):
        e, p = v_email(), v_phone()
        t1, s1 = build(T("Kontakt: ", None), e, "EMAIL")
        t2, s2 = build(T(" / ", None), p, "PHONE")
        off = len(t1.encode())
        for s in s2:
            s["start"] += off
            s["end"] += off
        lines.append({"text": t1 + t2, "context": "email", "class": "mixed", "spans": s1 + s2})
    for cls, fn in NEG.items():
        for _ in range(35):
            lines.append({"text": fn(), "context": "negative", "class": cls, "spans": []})
    for _ in range(700):
        lines.append({"text": clean_line(), "context": "clean", "class": "clean", "spans": []})
    R.shuffle(lines)
    out = sys.stdout
    for i, line in enumerate(lines, 1):
        rec = {"id": i}
        rec.update(line)
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
