/*
 * detect_vendors.c - the vendor token table (type API_KEY): token formats
 * with a fixed prefix or shape, one rule per vendor or token family.
 *
 * Written from the vendors' documented formats (which prefixes exist was
 * checked against the public gitleaks and detect-secrets rule sets; the
 * rules here are our own).  Each row: the PCRE2 pattern with token
 * boundaries, a short literal Vectorscan anchor (the prefix), the window
 * (back = how far before the anchor's end the token may start, fwd = how
 * far after it may end; detect_int.h R1), and the validator.  Vendors
 * whose tokens have no prefix (Datadog, Twilio auth tokens, Okta...) are
 * left to the keyword rules (GENERIC_SECRET); GitHub, Slack, Stripe, AWS
 * and Google's AIza keys keep their own types in detect_rules.c.
 *
 * To add a vendor: one row, a positive line in tests/unit/test_detect.c
 * (which checks R1 at several offsets) and a row in docs/DETECTORS.md.
 */
#include "usetrace/util.h"
#include "detect_int.h"

#define LB "(?<![A-Za-z0-9_\\-])"
#define LA "(?![A-Za-z0-9_\\-])"
#define W "A-Za-z0-9_\\-"	/* base64url */
#define AN "A-Za-z0-9"
#define HEX "a-f0-9"

/* A random-looking body with at least two of: upper, lower, digit. */
static bool
v_mixed(const char *t, size_t len, size_t *s, size_t *e)
{
	size_t i, up = 0, lo = 0, dg = 0;

	for (i = *s; i < *e; i++) {
		up |= dt_upper(t[i]);
		lo |= dt_lower(t[i]);
		dg |= dt_digit(t[i]);
	}
	return up + lo + dg >= 2 && detect__v_token(t, len, s, e);
}

#define V(re, hs, back, fwd) \
	{ DETECT_API_KEY, LB re LA, hs, back, fwd, detect__v_token }
#define VM(re, hs, back, fwd) \
	{ DETECT_API_KEY, LB re LA, hs, back, fwd, v_mixed }

const struct detect_rule detect__vendor_rules[] = {
	/* AI */
	VM("sk-ant-(?:api|admin|sid|oat|ort)[0-9]{2}-[" W "]{80,120}", "sk-ant-", 7, 140),
	VM("sk-(?:proj-|svcacct-|admin-|or-v1-|None-)?[" W "]{32,220}", "sk-[" AN "]", 4, 230),
	VM("hf_[" AN "]{34}", "hf_[" AN "]", 4, 34),
	VM("api_org_[" AN "]{34}", "api_org_", 8, 34),
	VM("gsk_[" AN "]{52}", "gsk_", 4, 52),
	VM("r8_[" AN "]{37}", "r8_", 3, 37),
	VM("pplx-[" AN "]{48}", "pplx-", 5, 48),
	VM("xai-[" AN "]{80}", "xai-", 4, 80),
	VM("pcsk_[" AN "_]{40,90}", "pcsk_", 5, 90),
	V("lsv2_(?:pt|sk)_[" HEX "]{32}_[" HEX "]{10}", "lsv2_", 5, 50),
	V("sk_[" HEX "]{48}", "sk_[" HEX "]", 4, 48), /* ElevenLabs */
	/* Cloud */
	V("ya29\\.[" W "]{30,300}", "ya29\\.", 5, 300),
	V("1//0[" W "]{40,200}", "1//0[" W "]", 5, 200),
	{ DETECT_API_KEY, "[A-Za-z0-9_~.\\-]{3}[0-9]Q~[A-Za-z0-9_~.\\-]{31,34}(?![A-Za-z0-9_~.\\-])",
	    "[0-9]Q~", 6, 34, v_mixed }, /* Azure AD client secret */
	{ DETECT_API_KEY, "(?i:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{43,86}={1,2})",
	    "(?i)(?:AccountKey|SharedAccessKey)=", 16, 90, detect__v_token },
	{ DETECT_API_KEY, "[?&]sig=([A-Za-z0-9%+/]{40,100}(?:%3D|=){0,2})(?![A-Za-z0-9%+/=])",
	    "[?&]sig=", 5, 110, detect__v_token }, /* Azure SAS signature */
	V("LTAI[" AN "]{20}", "LTAI", 4, 20),
	V("do[por]_v1_[" HEX "]{64}", "do[por]_v1_", 7, 64),
	V("[" AN "]{14}\\.atlasv1\\.[" W "=]{60,70}", "\\.atlasv1\\.", 23, 70),
	V("hv[sb]\\.[" W "]{24,200}", "hv[sb]\\.", 4, 200),
	V("dp\\.(?:pt|st|ct|sa|scim|audit)\\.[" AN "]{40,44}", "dp\\.(?:pt|st|ct|sa|scim|audit)\\.", 10, 44),
	V("pul-[" HEX "]{40}", "pul-", 4, 40),
	V("v1\\.0-[" HEX "]{24}-[" HEX "]{146}", "v1\\.0-", 5, 172),
	V("sbp_[" HEX "]{40}", "sbp_", 4, 40),
	VM("sb_secret_[" W "]{20,60}", "sb_secret_", 10, 60),
	VM("HRKU-[" W "]{30,80}", "HRKU-", 5, 80),
	VM("fo1_[" W "]{43}", "fo1_", 4, 43),
	VM("rnd_[" AN "]{32}", "rnd_", 4, 32),
	VM("nfp_[" AN "]{36}", "nfp_", 4, 36),
	V("dapi[" HEX "]{32}(?:-[0-9])?", "dapi[" HEX "]", 5, 34),
	/* Source hosting, CI, package registries */
	VM("gl(?:pat|dt|ptt|rt|oas|soat|cbt|imt|ffct|agent|ft|wt)-[" W "]{20,300}"
	    "(?:\\.[0-9a-z]{9})?", "gl(?:pat|dt|ptt|rt|oas|soat|cbt|imt|ffct|agent|ft|wt)-",
	    10, 312),
	VM("GR1348941[" W "]{20}", "GR1348941", 9, 20),
	VM("npm_[" AN "]{36}", "npm_", 4, 36),
	V("pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[" W "]{50,300}", "pypi-AgE", 8, 330),
	V("rubygems_[" HEX "]{48}", "rubygems_", 9, 48),
	V("oy2[a-z0-9]{43}", "oy2[a-z0-9]", 4, 43),
	VM("cio[" AN "]{32}", "cio[" AN "]", 4, 32),
	V("CLOJARS_[a-z0-9]{60}", "CLOJARS_", 8, 60),
	VM("dckr_pat_[" W "]{27,40}", "dckr_pat_", 9, 40),
	VM("AKCp[" AN "]{69}", "AKCp", 4, 69),
	V("bkua_[" HEX "]{40}", "bkua_", 5, 40),
	VM("CCIPAT_[" AN "]{22}_[" HEX "]{40}", "CCIPAT_", 7, 63),
	VM("ATATT3[" W "=]{150,220}", "ATATT3", 6, 220),
	VM("ATBB[" W "=.]{32}", "ATBB", 4, 32),
	VM("ATCTT3[" W "=]{150,220}", "ATCTT3", 6, 220),
	/* Messaging, e-mail, payments, commerce */
	V("SG\\.[" W "]{22}\\.[" W "]{43}", "SG\\.", 3, 66),
	V("key-[" AN "]{32}", "key-[" AN "]", 5, 32), /* Mailgun */
	V("[" HEX "]{32}-us[0-9]{1,2}", "-us[0-9]", 36, 2), /* Mailchimp */
	V("xkeysib-[" HEX "]{64}-[" AN "]{16}", "xkeysib-", 8, 81),
	V("xsmtpsib-[" HEX "]{64}-[" AN "]{16}", "xsmtpsib-", 9, 81),
	VM("re_[" AN "]{8}_[" AN "]{24}", "re_[" AN "]", 4, 33), /* Resend */
	V("SK[0-9a-fA-F]{32}", "SK[0-9a-fA-F]", 3, 32), /* Twilio API key */
	V("[0-9]{8,10}:AA[" W "]{33}", ":AA[" W "]", 14, 33), /* Telegram bot */
	V("shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}", "shp(?:at|ss|ca|pa)_", 6, 32),
	VM("sq0(?:atp|csp)-[" W "]{22,43}", "sq0(?:atp|csp)-", 7, 43),
	VM("EAAA[" W "+=]{60}", "EAAA", 4, 60), /* Square */
	VM("EAA[" AN "]{90,255}", "EAA[" AN "]", 4, 255), /* Facebook */
	V("access_token\\$production\\$[0-9a-z]{16}\\$[" HEX "]{32}", "access_token\\$production\\$", 24, 50),
	V("shippo_(?:live|test)_[" HEX "]{40}", "shippo_", 7, 45),
	VM("tfp_[" W ".=]{59}", "tfp_", 4, 59),
	VM("secret_[" AN "]{43}", "secret_[" AN "]", 8, 43), /* Notion */
	VM("ntn_[0-9]{11}[" AN "]{35}", "ntn_", 4, 46),
	VM("pat[" AN "]{14}\\.[" HEX "]{64}", "pat[" AN "]{14}\\.", 18, 64), /* Airtable */
	VM("lin_api_[" AN "]{40}", "lin_api_", 8, 40),
	V("PMAK-[" HEX "]{24}-[" HEX "]{34}", "PMAK-", 5, 59),
	VM("CFPAT-[" W "]{43}", "CFPAT-", 6, 43),
	VM("pscale_(?:tkn|pw|oauth)_[" W "=.]{32,64}", "pscale_", 7, 70),
	VM("aio_[" AN "]{28}", "aio_", 4, 28),
	{ DETECT_API_KEY, "AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,120}(?![A-Za-z0-9%])",
	    "AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]", 22, 120, v_mixed }, /* Twitter bearer */
	{ DETECT_API_KEY, "https://(?:ptb\\.|canary\\.)?discord(?:app)?\\.com/api/webhooks/"
	    "[0-9]{17,20}/[" W "]{60,68}" LA, "discord(?:app)?\\.com/api/webhooks/", 60, 100,
	    detect__v_token },
	VM("sl\\.[" W "]{130,160}", "sl\\.[" W "]", 4, 160), /* Dropbox */
	/* Observability */
	VM("NR(?:AK|II|AA)-[" AN "]{20,32}", "NR(?:AK|II|AA)-", 5, 32),
	V("NRJS-[" HEX "]{19}", "NRJS-", 5, 19),
	VM("sntr[ysu]_[A-Za-z0-9_=+/]{40,200}", "sntr[ysu]_", 6, 200),
	VM("glc_[A-Za-z0-9+/]{32,400}={0,2}", "glc_", 4, 402),
	V("glsa_[" AN "]{32}_[A-Fa-f0-9]{8}", "glsa_", 5, 41),
	/* Password managers, encryption */
	VM("ops_eyJ[A-Za-z0-9+/]{200,1200}={0,3}", "ops_eyJ", 7, 1203),
	VM("A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
	    "A3-[A-Z0-9]", 4, 42),
	V("AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", "AGE-SECRET-KEY-1", 16, 58),
	VM("sk\\.eyJ[" W "]{50,}\\.[" W "]{20,}", "sk\\.eyJ", 6, 400), /* Mapbox secret */
};

const size_t detect__nvendor_rules = UT_ARRAY_LEN(detect__vendor_rules);
