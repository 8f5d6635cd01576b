/*
 * detect_context.c - secrets introduced by their context (PASSWORD): a
 * password keyword (in several languages) and a value after ':', '=',
 * "is" (and its translations), a space or a line break; PINs; "login /
 * password" pairs; user:password@ in URLs and connection strings; the
 * password flags of common command-line tools; HTTP Basic credentials.
 *
 * The span is always the value, never the keyword.  How strongly the value
 * must look like a password depends on how clearly the context says it is
 * one:
 *   - after ':' or '=' (a form, a config file, a URL): anything that is not
 *     a placeholder (`****`, `<redacted>`, `${VAR}`, `changeme`) or code
 *     (`os.getenv(...)`, `self.password`);
 *   - after "is", a space or a line break (chat): it must also look like a
 *     password, not a word ("password reset", "password field is required"):
 *     a digit or a symbol, or six or more digits.
 */
#include <string.h>

#include "usetrace/util.h"
#include "detect_int.h"

/* Password keywords (case-insensitive, byte mode: UTF-8 spelled out). */
#define PWKW                                                                 \
	"(?:password|passwort|passwd|passphrase|passcode|pass|pwd|pw|"        \
	"kennwort|wachtwoord|mot de passe|mdp|contrase(?:\xc3\xb1|n)a|clave|"  \
	"senha|parola d'ordine|has(?:\xc5\x82|l)o|l(?:\xc3\xb6|o)senord|"      \
	"adgangskode|passord|salasana|(?:\xc5\x9f|s)ifre|heslo|jelsz(?:\xc3\xb3|o)|" \
	"\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c|"     /* пароль */   \
	"\xe5\xaf\x86\xe7\xa0\x81|\xe5\xaf\x86\xe7\xa2\xbc|"    /* 密码 密碼 */ \
	"\xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89|" /* パスワード */ \
	"\xeb\xb9\x84\xeb\xb0\x80\xeb\xb2\x88\xed\x98\xb8|"     /* 비밀번호 */ \
	"kata sandi|m\xe1\xba\xad t kh\xe1\xba\xa9u|otp)"
#define PWKW_HS                                                              \
	"(?i)(?:pass|pwd|pw|kennwort|wachtwoord|mot de passe|mdp|contrase|"   \
	"clave|senha|parola|has(?:\xc5\x82|l)o|senord|adgangskode|salasana|ifre|heslo|jelsz|" \
	"\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c|\xe5\xaf\x86|"       \
	"\xe3\x83\x91\xe3\x82\xb9|\xeb\xb9\x84\xeb\xb0\x80|kata sandi|kh\xe1\xba\xa9u|otp)"
/* "for <what>" between keyword and value. */
#define FOR_REQ                                                              \
	"[ \\t]{1,4}(?:for|f\xc3\xbcr|de|da|del|para|per|pour|do|of|to|"      \
	"van|voor)[ \\t]{1,4}[^:=\\n]{1,40}?"
#define STRICT_SEP "[ \\t]{0,4}(?::=|=>|->|[:=]|\xef\xbc\x9a)[ \\t]{0,4}"
#define IS_SEP "[ \\t]{1,4}" IS "[ \\t]{1,4}"
#define NL_SEP "[ \\t]{0,4}[:=]?[ \\t]{0,4}\\r?\\n[ \\t]{0,8}"
/* "is" and its translations. */
#define IS                                                                   \
	"(?:is|ist|est|es|\xc3\xa9|\xc3\xa8|er|\xc3\xa4r|era|was|are|=|->|-)"
/* The value: quoted (may hold spaces) or one token. */
#define VAL                                                                  \
	"(?|\"([^\"\\n]{1,128})\"|'([^'\\n]{1,128})'|`([^`\\n]{1,128})`|"      \
	"([^\\s\"'`;]{1,128}))"

static bool
is_code(const char *s, size_t n)
{
	size_t i = 0, dots = 0;

	/* name(...), name[...], a.b.c: code, not a value. */
	while (i < n && (dt_lower(s[i]) || dt_upper(s[i]) || s[i] == '_' ||
	    (i > 0 && dt_digit(s[i])) || s[i] == '.')) {
		dots += s[i] == '.';
		i++;
	}
	if (i > 0 && i < n && (s[i] == '(' || s[i] == '['))
		return true;
	if (i == n && dots > 0 && s[n - 1] != '.') {
		for (i = 0; i < n; i++)
			if (dt_upper(s[i]) || dt_digit(s[i]))
				return false;
		return true;
	}
	return false;
}

static bool
stopword(const char *s, size_t n)
{
	static const char *const w[] = { "pass", "passwd", "pwd", "user",
		"username", "admin", "root", "test", "guest", "demo", "sample",
		"1234", "12345", "123456", "abc123", "secret123" };
	static const unsigned char wn[] = { 4, 6, 3, 4, 8, 5, 4, 4, 5, 4, 6,
		4, 5, 6, 6, 9 }; /* strlen(w[k]) */
	size_t i, k;
	char b[16];

	_Static_assert(sizeof(wn) == UT_ARRAY_LEN(w), "one length per word");
	if (n >= sizeof(b))
		return false;
	for (i = 0; i < n; i++)
		b[i] = dt_upper(s[i]) ? (char)(s[i] - 'A' + 'a') : s[i];
	for (k = 0; k < UT_ARRAY_LEN(w); k++)
		if (wn[k] == n && memcmp(b, w[k], n) == 0)
			return k < 5; /* real (weak) passwords stay secrets */
	return false;
}

/* Trailing punctuation is not part of a value. */
static void
pw_trim(const char *t, size_t len, size_t s, size_t *e)
{
	while (*e > s && (t[*e - 1] == ',' || t[*e - 1] == ';' ||
	    t[*e - 1] == ')' || (t[*e - 1] == '.' && (*e == len ||
	    t[*e] == ' ' || t[*e] == '\n'))))
		(*e)--;
}

/* The (trimmed) value is not a placeholder, code or a stop word. */
static bool
pw_ok(const char *t, size_t s, size_t e)
{
	if (e - s < 4 || detect__is_placeholder(t + s, e - s))
		return false;
	if (e - s >= 2 && t[s] == '\xe2' && t[s + 1] == '\x80')
		return false; /* •••• */
	return !is_code(t + s, e - s) && !stopword(t + s, e - s);
}

/* After ':' or '=': anything but a placeholder or code. */
static bool
v_pw(const char *t, size_t len, size_t *s, size_t *e)
{
	pw_trim(t, len, *s, e);
	return pw_ok(t, *s, *e);
}

/*
 * After "is", a space or a line break: it must look like a password too.
 * These cheap shape tests come before pw_ok() (the result is the same: all
 * must pass): in prose the value after "password " is a word, and the
 * shape tests reject it at once.
 */
static bool
v_pw_loose(const char *t, size_t len, size_t *s, size_t *e)
{
	size_t i, dg = 0, sym = 0, up = 0, n;
	const char *at;

	pw_trim(t, len, *s, e);
	n = *e - *s;
	if (n < 4 || n > 64)
		return false;
	/* A path, or a label ("for key '/x/y': ..."): not the value. */
	if (t[*s] == '/' || t[*s] == '~' || (t[*s] == '.' && t[*s + 1] == '/'))
		return false;
	i = *e;
	if (i < len && (t[i] == '"' || t[i] == '\'' || t[i] == '`'))
		i++;
	if (i < len && t[i] == ':')
		return false;
	/* A URL, or a number, time, date or version (10:30, 3.11.7, 1,234). */
	if (n > 4 && memcmp(t + *s, "http", 4) == 0)
		return false;
	/* an e-mail address (a '@' followed by a dotted domain), or a label */
	at = memchr(t + *s, '@', n);
	if ((at != NULL && memchr(at, '.', (size_t)(t + *e - at)) != NULL) ||
	    t[*e - 1] == ':')
		return false;
	for (i = *s; i < *e && (dt_digit(t[i]) || t[i] == '.' || t[i] == ',' ||
	    t[i] == ':' || t[i] == '/' || t[i] == '-'); i++)
		;
	if (i == *e && !(n >= 6 && detect__distinct(t + *s, n) > 2 &&
	    strspn(t + *s, "0123456789") == n))
		return false;
	for (i = *s; i < *e; i++) {
		if (dt_digit(t[i]))
			dg++;
		else if (dt_upper(t[i]))
			up++;
		else if (!dt_lower(t[i]) && (unsigned char)t[i] < 0x80)
			sym++;
	}
	if (dg == n)
		return n >= 6 && pw_ok(t, *s, *e);
	if (dg == 0 && sym == 0)
		return false; /* a word */
	/* "v2", "2FA", "x86": a digit or two in a word is a name, not a secret. */
	return (n >= 6 || sym > 0) && pw_ok(t, *s, *e);
}

/* Strict after ':' or '=' (skipping a closing quote and blanks), else loose. */
static bool
v_pw_ctx(const char *t, size_t len, size_t *s, size_t *e)
{
	size_t i = *s;

	if (i > 0 && (t[i - 1] == '"' || t[i - 1] == '\'' || t[i - 1] == '`'))
		i--;
	while (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t'))
		i--;
	if (i > 0 && (t[i - 1] == ':' || t[i - 1] == '=' || t[i - 1] == '>' ||
	    (i >= 3 && (unsigned char)t[i - 1] == 0x9a &&
	    (unsigned char)t[i - 2] == 0xbc && (unsigned char)t[i - 3] == 0xef)))
		return v_pw(t, len, s, e);
	return v_pw_loose(t, len, s, e);
}

static bool
v_not_digits(const char *t, size_t len, size_t *s, size_t *e)
{
	size_t i;

	if (!v_pw(t, len, s, e))
		return false;
	for (i = *s; i < *e; i++)
		if (!dt_digit(t[i]))
			return true;
	return false;
}

static bool
v_pin(const char *t, size_t len, size_t *s, size_t *e)
{
	(void)len;
	return *e - *s >= 4 && detect__distinct(t + *s, *e - *s) >= 2;
}

static bool
v_basic(const char *t, size_t len, size_t *s, size_t *e)
{
	(void)len;
	return *e - *s >= 8 && !detect__is_placeholder(t + *s, *e - *s);
}

#define CLI_VAL "(?|'([^'\\n]{1,128})'|\"([^\"\\n]{1,128})\"|([^\\s\"'\\-][^\\s\"']{0,127}))"

const struct detect_rule detect__context_rules[] = {
	/*
	 * keyword : value, keyword = value, keyword is value, keyword value,
	 * keyword <newline> value.  v_pw_ctx looks at the separator to choose
	 * how strict to be.
	 */
	{ DETECT_PASSWORD,
	    "(?i)(?<![A-Za-z])" PWKW "(?:" FOR_REQ "[\"']?(?:" STRICT_SEP "|" IS_SEP "|" NL_SEP ")|"
	    "[\"']?(?:" STRICT_SEP "|" IS_SEP "|[ \\t]{1,4}|" NL_SEP "))" VAL,
	    PWKW_HS, 24, 220, v_pw_ctx },
	/* PINs and door codes: 4 to 8 digits. */
	{ DETECT_PASSWORD,
	    "(?i)(?<![A-Za-z])(?:pin(?:[ \\-]?(?:code|number|no\\.?|#))?|door code|gate code|"
	    "alarm code|access code|entry code|geheimzahl|code pin)"
	    "(?:[ \\t]{1,4}(?:for|to|of|f\xc3\xbcr)[ \\t]{1,4}[^:=\\n]{1,30}?)?[\"']?"
	    "(?:[ \\t]{0,4}[:=][ \\t]{0,4}|[ \\t]{1,4}" IS "[ \\t]{1,4}|[ \\t]{1,4})[\"']?"
	    "([0-9]{4,8})(?![0-9A-Za-z])",
	    "(?i)(?:pin|(?:door|gate|alarm|access|entry) code|geheimzahl)", 60, 60, v_pin },
	/* login / password, creds: user / password */
	{ DETECT_PASSWORD,
	    "(?i)(?<![A-Za-z])(?:login|log-in|user(?:name)?|creds?|credentials|account|acct|"
	    "benutzer(?:name)?|usuario|utilisateur)(?![A-Za-z0-9_\\-])(?:[ \\t]+(?:is|ist|es|est))?"
	    "(?:[ \\t]*[:=][ \\t]*|[ \\t]+)"
	    "[^\\s/:]{1,64}[ \\t]*/[ \\t]*([^\\s/]{4,64})",
	    "(?i)(?:login|log-in|user|cred|account|acct|benutzer|usuario|utilisateur)",
	    20, 150, v_pw_loose },
	/* scheme://user:password@host (URLs, connection strings) */
	{ DETECT_PASSWORD,
	    "(?i)[a-z][a-z0-9+.\\-]{1,20}://[^\\s:/@\"'<>]{0,64}:([^\\s@/\"'<>]{1,128})@"
	    "(?=[A-Za-z0-9\\[])",
	    "://[^\\s/@:]*:[^\\s/@]*@", 220, 2, v_pw },
	/* mysql -pSECRET (glued: "-p value" would be a database name) */
	{ DETECT_PASSWORD,
	    "(?<![A-Za-z0-9_\\-])(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlsh|mysqlcheck|"
	    "mariadb(?:-dump|-admin)?)(?![A-Za-z0-9_\\-])[^\\n|;&]{0,120}?[ \\t]-p" CLI_VAL,
	    "(?:mysql|mariadb)", 12, 270, v_pw },
	/* sshpass -p X, docker login -p X, redis-cli -a X */
	{ DETECT_PASSWORD,
	    "(?:sshpass|(?:docker|podman|nerdctl|buildah|skopeo|oras|crane|helm registry) login|"
	    "htpasswd -b\\S*|redis-cli)(?![A-Za-z0-9_\\-])[^\\n|;&]{0,120}?[ \\t](?:-p|-a|--pass)"
	    "(?:[ \\t]+|=)" CLI_VAL,
	    "(?:sshpass|login|htpasswd|redis-cli)", 20, 280, v_pw },
	/* curl -u user:password, --user user:password */
	{ DETECT_PASSWORD,
	    "(?<![A-Za-z0-9_\\-])(?:-u|--user|--proxy-user)(?:[ \\t]{1,4}|=)[\"']?"
	    "[^\\s:\"'@/]{1,64}:([^\\s\"']{1,128})",
	    "(?:-u|--user|--proxy-user)", 13, 200, v_not_digits },
	/* HTTP Basic credentials (base64 of user:password) */
	{ DETECT_PASSWORD,
	    "(?i)(?<![A-Za-z])(?:proxy-)?authorization[\"']?[ \\t]*[:=][ \\t]*[\"']?basic[ \\t]+"
	    "([A-Za-z0-9+/]{6,512}={0,2})(?![A-Za-z0-9+/=])",
	    "(?i)basic[ \\t]", 50, 530, v_basic },
};

const size_t detect__ncontext_rules = UT_ARRAY_LEN(detect__context_rules);
