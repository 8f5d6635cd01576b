/*
 * ratelimit.c - token buckets per source address, in a bounded table.
 *
 * A fixed pool of cap entries, a hash index keyed with a random SipHash
 * key (so a client cannot aim collisions at one chain), and a list in
 * least-recently-seen order; a new source when the pool is full takes the
 * entry of the least recently seen one.  Everything is O(1) per request
 * under one mutex.
 *
 * Invariants:
 *  (1) n <= cap; every used entry is on exactly one hash chain and on the
 *      LRU list, and no unused entry is on either.
 *  (2) 0 <= tokens <= burst for every entry.
 *  (3) An evicted source starts again with a full bucket: an attacker who
 *      rotates through more than cap sources gets burst requests per source,
 *      which the connection limits bound.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "usetrace/err.h"
#include "usetrace/log.h"
#include "usetrace/util.h"
#include "http_int.h"

#define NIL UINT32_MAX

struct rl_ent {
	uint8_t key[16];
	double tokens;
	uint64_t last_ns;
	uint32_t hnext;          /* next on the hash chain */
	uint32_t prev, next;     /* LRU list: head most recent */
};

struct http_rl {
	pthread_mutex_t mu;
	double rate, burst;
	uint32_t cap, n, nbuckets;
	struct rl_ent *ents;
	uint32_t *buckets;
	uint32_t head, tail;
	uint8_t hkey[crypto_shorthash_KEYBYTES];
};

int
http_rl_create(unsigned rate_per_s, unsigned burst, unsigned cap,
    struct http_rl **out)
{
	struct http_rl *rl;
	uint32_t i;

	if (rate_per_s == 0 || burst == 0 || cap == 0 || cap > (1u << 24))
		return UT_EINVAL;
	if (sodium_init() < 0)
		return UT_ECRYPTO;
	rl = xcalloc(1, sizeof(*rl));
	if (pthread_mutex_init(&rl->mu, NULL) != 0) {
		free(rl);
		return -ENOMEM;
	}
	rl->rate = rate_per_s;
	rl->burst = burst;
	rl->cap = cap;
	for (rl->nbuckets = 16; rl->nbuckets < cap; rl->nbuckets <<= 1)
		;
	rl->ents = xcalloc(cap, sizeof(*rl->ents));
	rl->buckets = xcalloc(rl->nbuckets, sizeof(*rl->buckets));
	for (i = 0; i < rl->nbuckets; i++)
		rl->buckets[i] = NIL;
	rl->head = rl->tail = NIL;
	randombytes_buf(rl->hkey, sizeof(rl->hkey));
	*out = rl;
	return 0;
}

void
http_rl_destroy(struct http_rl *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl->ents);
	free(rl->buckets);
	sodium_memzero(rl, sizeof(*rl));
	free(rl);
}

/* The bucket key: IPv4 as v4-mapped IPv6, IPv6 cut to its /64. */
static void
source_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			memcpy(key, &s6->sin6_addr, 16);
		else
			memcpy(key, &s6->sin6_addr, 8);
	}
}

static uint32_t
bucket_of(const struct http_rl *rl, const uint8_t key[16])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, key, 16, rl->hkey);
	memcpy(&v, h, sizeof(v));
	return (uint32_t)(v & (rl->nbuckets - 1));
}

static void
lru_unlink(struct http_rl *rl, uint32_t i)
{
	struct rl_ent *e = &rl->ents[i];

	if (e->prev != NIL)
		rl->ents[e->prev].next = e->next;
	else
		rl->head = e->next;
	if (e->next != NIL)
		rl->ents[e->next].prev = e->prev;
	else
		rl->tail = e->prev;
	e->prev = e->next = NIL;
}

static void
lru_push_front(struct http_rl *rl, uint32_t i)
{
	struct rl_ent *e = &rl->ents[i];

	e->prev = NIL;
	e->next = rl->head;
	if (rl->head != NIL)
		rl->ents[rl->head].prev = i;
	rl->head = i;
	if (rl->tail == NIL)
		rl->tail = i;
}

static void
chain_remove(struct http_rl *rl, uint32_t i)
{
	uint32_t *pp = &rl->buckets[bucket_of(rl, rl->ents[i].key)];

	while (*pp != NIL && *pp != i)
		pp = &rl->ents[*pp].hnext;
	UT_ASSERT(*pp == i);
	*pp = rl->ents[i].hnext;
	rl->ents[i].hnext = NIL;
}

/* Finds or makes the entry of key; a new one starts full. */
static struct rl_ent *
lookup(struct http_rl *rl, const uint8_t key[16], uint64_t now_ns)
{
	uint32_t b = bucket_of(rl, key), i;

	for (i = rl->buckets[b]; i != NIL; i = rl->ents[i].hnext) {
		if (memcmp(rl->ents[i].key, key, 16) == 0) {
			lru_unlink(rl, i);
			lru_push_front(rl, i);
			return &rl->ents[i];
		}
	}
	if (rl->n < rl->cap) {
		i = rl->n++;
	} else {
		i = rl->tail;
		lru_unlink(rl, i);
		chain_remove(rl, i);
	}
	memcpy(rl->ents[i].key, key, 16);
	rl->ents[i].tokens = rl->burst;
	rl->ents[i].last_ns = now_ns;
	rl->ents[i].hnext = rl->buckets[b];
	rl->buckets[b] = i;
	lru_push_front(rl, i);
	return &rl->ents[i];
}

unsigned
http_rl_take(struct http_rl *rl, const struct sockaddr *sa, uint64_t now_ns)
{
	uint8_t key[16];
	struct rl_ent *e;
	double wait;
	unsigned r = 0;

	source_key(sa, key);
	pthread_mutex_lock(&rl->mu);
	e = lookup(rl, key, now_ns);
	if (now_ns > e->last_ns) {
		e->tokens += (double)(now_ns - e->last_ns) * 1e-9 * rl->rate;
		if (e->tokens > rl->burst)
			e->tokens = rl->burst;
		e->last_ns = now_ns;
	}
	if (e->tokens >= 1.0) {
		e->tokens -= 1.0;
	} else {
		wait = (1.0 - e->tokens) / rl->rate;
		r = (unsigned)wait;
		if ((double)r < wait)
			r++;
		if (r == 0)
			r = 1;
	}
	pthread_mutex_unlock(&rl->mu);
	return r;
}

unsigned
http_rl_count(struct http_rl *rl)
{
	unsigned n;

	pthread_mutex_lock(&rl->mu);
	n = rl->n;
	pthread_mutex_unlock(&rl->mu);
	return n;
}
